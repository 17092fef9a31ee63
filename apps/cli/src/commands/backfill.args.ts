import { Command, Option } from 'commander';
import { BACKFILL_KINDS, type BackfillKind } from '@iks/backfill';
import { cliCommand, isoMs, parseWith, value, type Parsed } from './command-args';
import { connectionOption } from './connection-option';

export const BACKFILL_USAGE =
  '--since <ISO date> [--until <ISO date>] [--only conversations,tickets,contacts] [--restart] [--checkpoint-dir <dir>] [--app-id <id>] [--per-page <1-150>] [--connection <id>]';

export interface BackfillArgs {
  readonly since: number;
  readonly until: number | null;
  readonly kinds: readonly BackfillKind[];
  readonly restart: boolean;
  readonly checkpointDir: string;
  readonly appId: string | null;
  readonly perPage: number;
  /** `--connection`: whose workspace is read and whose records are written; null: the default connection. */
  readonly connection: string | null;
}

interface BackfillOptions {
  since?: string;
  until?: string;
  only?: string;
  restart?: boolean;
  checkpointDir?: string;
  appId?: string;
  perPage?: string;
  connection?: string;
}

/** The declaration of `backfill` (options, help); main.ts adds it to the program, parseBackfillArgs parses with it. */
export function backfillCommand(): Command {
  return cliCommand('backfill')
    .description(
      'write Intercom history (REST search by updated_at) to the raw topic as backfill notifications; checkpoints after ' +
        'each page: after Ctrl-C (exit 130) or a failure, the same command resumes (needs INTERCOM_ACCESS_TOKEN)',
    )
    .usage(BACKFILL_USAGE)
    .addOption(
      new Option('--since <ISO date>', 'objects updated at or after this date (required)').argParser(value('--since')),
    )
    .addOption(new Option('--until <ISO date>', 'objects updated before this date').argParser(value('--until')))
    .addOption(
      new Option('--only <kinds>', `comma-separated, of ${BACKFILL_KINDS.join(',')} (default all)`).argParser(
        value('--only'),
      ),
    )
    .option('--restart', 'ignore the checkpoint of this window and start again')
    .addOption(
      new Option('--checkpoint-dir <dir>', 'where checkpoints are kept (default .checkpoints)').argParser(
        value('--checkpoint-dir'),
      ),
    )
    .addOption(
      new Option('--app-id <id>', 'the workspace id of the notifications (default: read from GET /me)').argParser(
        value('--app-id'),
      ),
    )
    .addOption(
      new Option('--per-page <n>', 'objects per search page, 1 to 150 (default 150)').argParser(value('--per-page')),
    )
    .addOption(
      connectionOption(
        "the connection whose workspace is read (its access token and API host) and whose records are written (default: the environment's)",
      ),
    );
}

export function parseBackfillArgs(args: readonly string[]): Parsed<BackfillArgs> {
  const parsed = parseWith(backfillCommand(), args);
  return parsed.ok ? backfillArgsFrom(parsed.value.opts) : parsed;
}

export function backfillArgsFrom(o: BackfillOptions): Parsed<BackfillArgs> {
  if (o.since === undefined) return { ok: false, error: '--since is required' };
  const since = isoSeconds(o.since);
  if (since === undefined) return { ok: false, error: `--since "${o.since}" is not an ISO 8601 date` };
  let until: number | null = null;
  if (o.until !== undefined) {
    const u = isoSeconds(o.until);
    if (u === undefined) return { ok: false, error: `--until "${o.until}" is not an ISO 8601 date` };
    if (u <= since) return { ok: false, error: '--until must be after --since' };
    until = u;
  }
  let kinds: BackfillKind[] = [...BACKFILL_KINDS];
  if (o.only !== undefined) {
    const asked = o.only
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = asked.filter((k) => !(BACKFILL_KINDS as readonly string[]).includes(k));
    if (bad.length > 0 || asked.length === 0)
      return { ok: false, error: `--only takes ${BACKFILL_KINDS.join(',')} (got "${o.only}")` };
    kinds = BACKFILL_KINDS.filter((k) => asked.includes(k)); // contacts first, whatever the order given
  }
  const perPage = o.perPage !== undefined ? Number(o.perPage) : 150;
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 150)
    return { ok: false, error: '--per-page must be an integer from 1 to 150' };
  return {
    ok: true,
    value: {
      since,
      until,
      kinds,
      restart: o.restart === true,
      checkpointDir: o.checkpointDir ?? '.checkpoints',
      appId: o.appId ?? null,
      perPage,
      connection: o.connection ?? null,
    },
  };
}

/** ISO 8601 date or date-time (a date alone is midnight UTC) → unix seconds. */
function isoSeconds(v: string): number | undefined {
  const ms = isoMs(v);
  return ms === undefined ? undefined : Math.floor(ms / 1000);
}
