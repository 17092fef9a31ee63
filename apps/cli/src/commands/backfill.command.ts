import type { Config } from '@iks/config';
import { IntercomClient } from '@iks/intercom';
import { topicName, NotificationWriter } from '@iks/kafka';
import { BACKFILL_KINDS, type BackfillKind, CheckpointStore, BackfillProgress, type ProgressStream, BackfillRunner, type BackfillSink, NotificationWriterSink } from '@iks/backfill';
import type { CliIo } from '../cli-io';

export const BACKFILL_USAGE =
  'usage: backfill --since <ISO date> [--until <ISO date>] [--only conversations,tickets,contacts] [--restart] [--checkpoint-dir <dir>] [--app-id <id>] [--per-page <1-150>]';

export interface BackfillArgs {
  readonly since: number;
  readonly until: number | null;
  readonly kinds: readonly BackfillKind[];
  readonly restart: boolean;
  readonly checkpointDir: string;
  readonly appId: string | null;
  readonly perPage: number;
}

const FLAGS = new Set(['--since', '--until', '--only', '--checkpoint-dir', '--app-id', '--per-page']);

export function parseBackfillArgs(args: readonly string[]): { ok: true; value: BackfillArgs } | { ok: false; error: string } {
  const values = new Map<string, string>();
  let restart = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--restart') {
      restart = true;
      continue;
    }
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    if (!FLAGS.has(flag)) return { ok: false, error: `unknown argument "${a}"` };
    const v = inline ?? args[++i];
    if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) return { ok: false, error: `${flag} needs a value` };
    values.set(flag, v);
  }
  const since = isoSeconds(values.get('--since'));
  if (!values.has('--since')) return { ok: false, error: '--since is required' };
  if (since === undefined) return { ok: false, error: `--since "${values.get('--since')}" is not an ISO 8601 date` };
  let until: number | null = null;
  if (values.has('--until')) {
    const u = isoSeconds(values.get('--until'));
    if (u === undefined) return { ok: false, error: `--until "${values.get('--until')}" is not an ISO 8601 date` };
    if (u <= since) return { ok: false, error: '--until must be after --since' };
    until = u;
  }
  let kinds: BackfillKind[] = [...BACKFILL_KINDS];
  if (values.has('--only')) {
    const asked = values.get('--only')!.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = asked.filter((k) => !(BACKFILL_KINDS as readonly string[]).includes(k));
    if (bad.length > 0 || asked.length === 0) return { ok: false, error: `--only takes ${BACKFILL_KINDS.join(',')} (got "${values.get('--only')}")` };
    kinds = BACKFILL_KINDS.filter((k) => asked.includes(k)); // contacts first, whatever the order given
  }
  const perPage = values.has('--per-page') ? Number(values.get('--per-page')) : 150;
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 150) return { ok: false, error: '--per-page must be an integer from 1 to 150' };
  return {
    ok: true,
    value: { since, until, kinds, restart, checkpointDir: values.get('--checkpoint-dir') ?? '.checkpoints', appId: values.get('--app-id') ?? null, perPage },
  };
}

/** ISO 8601 date or date-time (a date alone is midnight UTC) → unix seconds. */
function isoSeconds(v: string | undefined): number | undefined {
  if (!v || !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

export interface BackfillDeps {
  /** Where progress goes (default process.stderr). */
  readonly progress?: ProgressStream;
  /** SIGINT subscription (default process); returns the unsubscribe. */
  readonly onInterrupt?: (handler: () => void) => () => void;
  /** Replaces the Kafka writer (tests). */
  readonly sink?: BackfillSink;
}

const processInterrupt = (handler: () => void) => {
  process.on('SIGINT', handler);
  return () => void process.off('SIGINT', handler);
};

/**
 * `backfill`: history from Intercom's REST search into intercom.notifications.v1 (see
 * apps/ingest/src/backfill). Exit 0 when done, 130 when interrupted (the checkpoint holds the
 * last acknowledged page; run the same command to resume), 2 on bad arguments or a missing
 * INTERCOM_ACCESS_TOKEN, 1 on other failures (resumable too).
 */
export async function runBackfillCommand(args: string[], config: Config, io: CliIo, deps: BackfillDeps = {}): Promise<number> {
  const parsed = parseBackfillArgs(args);
  if (!parsed.ok) {
    io.stderr(`backfill: ${parsed.error}\n${BACKFILL_USAGE}`);
    return 2;
  }
  const a = parsed.value;
  const token = config.intercom.accessToken;
  if (!token) {
    io.stderr('backfill: INTERCOM_ACCESS_TOKEN is not set (an Intercom access token that can read contacts, conversations and tickets)');
    return 2;
  }
  const client = new IntercomClient({ accessToken: token, baseUrl: config.intercom.baseUrl, version: config.intercom.version });

  let appId = a.appId;
  if (!appId) {
    try {
      const me = (await client.me()) as { app?: { id_code?: string } };
      appId = me.app?.id_code ?? null;
    } catch (e) {
      io.stderr(`backfill: cannot read the workspace id from GET /me (${(e as Error).message})`);
    }
    if (!appId) {
      io.stderr('backfill: pass --app-id <workspace id> (the app_id of your webhook notifications)');
      return 2;
    }
  }

  const topic = topicName('notifications', config.kafka.topicPrefix);
  const store = new CheckpointStore(a.checkpointDir, { since: a.since, until: a.until, topic, baseUrl: config.intercom.baseUrl });
  let writer: NotificationWriter | undefined;
  let sink = deps.sink;
  if (!sink) {
    writer = new NotificationWriter(config);
    await writer.start();
    sink = new NotificationWriterSink(writer);
  }

  const stop = new AbortController();
  let interrupts = 0;
  const unsubscribe = (deps.onInterrupt ?? processInterrupt)(() => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr('\nbackfill: interrupted; finishing the page in flight and saving the checkpoint (Ctrl-C again to quit now)');
      stop.abort();
    } else {
      // The checkpoint on disk is the last acknowledged page: quitting now loses nothing.
      process.exit(130);
    }
  });
  const progress = new BackfillProgress(deps.progress ?? process.stderr);
  try {
    const result = await new BackfillRunner(client, sink, store).run({
      since: a.since, until: a.until, kinds: a.kinds, appId, perPage: a.perPage, restart: a.restart,
      stop: stop.signal, onPage: (e) => progress.page(e),
    });
    progress.finish();
    io.stdout(progress.summary(result));
    if (result.outcome === 'interrupted') {
      io.stderr(`backfill: stopped; run the same command again to resume (checkpoint ${result.checkpointPath})`);
      return 130;
    }
    if (result.resumed && result.pages === 0) io.stderr('backfill: this window was already complete; --restart runs it again');
    return 0;
  } finally {
    unsubscribe();
    await writer?.stop();
  }
}
