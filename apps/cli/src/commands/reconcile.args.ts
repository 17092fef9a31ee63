import { Command, Option } from 'commander';
import { BACKFILL_KINDS, type BackfillKind } from '@iks/backfill';
import { cliCommand, isoMs, parseWith, value, type Parsed } from './command-args';
import { connectionOption } from './connection-option';

export const RECONCILE_USAGE =
  '--since <ISO date> --until <ISO date> [--heal] [--only conversations,tickets,contacts] [--index-dir <dir>] [--app-id <id>] [--connection <id>]';

export interface ReconcileArgs {
  /** unix seconds, [since, until) */
  readonly since: number;
  readonly until: number;
  readonly heal: boolean;
  readonly kinds: readonly BackfillKind[];
  readonly indexDir: string;
  readonly appId: string | null;
  /** `--connection`: whose workspace is compared (and healed); null: the default connection. */
  readonly connection: string | null;
}

interface ReconcileOptions {
  since?: string;
  until?: string;
  heal?: boolean;
  only?: string;
  indexDir?: string;
  appId?: string;
  connection?: string;
}

export function reconcileCommand(): Command {
  return cliCommand('reconcile')
    .description(
      'compare what Intercom holds for a window (REST) with what the pipeline produced (klaviyo.events.v1, klaviyo.profiles.v1) ' +
        'and print expected / present / missing per metric; --heal writes the missing notifications to the raw topic ' +
        '(source reconcile) so the pipeline delivers them (needs INTERCOM_ACCESS_TOKEN)',
    )
    .usage(RECONCILE_USAGE)
    .addOption(
      new Option('--since <ISO date>', 'start of the window: what happened at or after (required)').argParser(
        value('--since'),
      ),
    )
    .addOption(
      new Option('--until <ISO date>', 'end of the window: what happened before (required)').argParser(
        value('--until'),
      ),
    )
    .option('--heal', 'write what is missing to the raw topic')
    .addOption(
      new Option('--only <kinds>', `comma-separated, of ${BACKFILL_KINDS.join(',')} (default all)`).argParser(
        value('--only'),
      ),
    )
    .addOption(
      new Option(
        '--index-dir <dir>',
        'where the index of produced ids and its offsets is kept (default .reconcile)',
      ).argParser(value('--index-dir')),
    )
    .addOption(
      new Option('--app-id <id>', 'the workspace id of the notifications (default: read from GET /me)').argParser(
        value('--app-id'),
      ),
    )
    .addOption(
      connectionOption(
        "the connection whose workspace is compared and healed, with its access token and API host (default: the environment's)",
      ),
    );
}

export function parseReconcileArgs(args: readonly string[]): Parsed<ReconcileArgs> {
  const parsed = parseWith(reconcileCommand(), args);
  return parsed.ok ? reconcileArgsFrom(parsed.value.opts) : parsed;
}

export function reconcileArgsFrom(o: ReconcileOptions): Parsed<ReconcileArgs> {
  if (o.since === undefined) return { ok: false, error: '--since is required' };
  if (o.until === undefined) return { ok: false, error: '--until is required' };
  const since = isoMs(o.since);
  if (since === undefined) return { ok: false, error: `--since "${o.since}" is not an ISO 8601 date` };
  const until = isoMs(o.until);
  if (until === undefined) return { ok: false, error: `--until "${o.until}" is not an ISO 8601 date` };
  if (until <= since) return { ok: false, error: '--until must be after --since' };
  let kinds: BackfillKind[] = [...BACKFILL_KINDS];
  if (o.only !== undefined) {
    const asked = o.only
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = asked.filter((k) => !(BACKFILL_KINDS as readonly string[]).includes(k));
    if (bad.length > 0 || asked.length === 0)
      return { ok: false, error: `--only takes ${BACKFILL_KINDS.join(',')} (got "${o.only}")` };
    kinds = BACKFILL_KINDS.filter((k) => asked.includes(k));
  }
  return {
    ok: true,
    value: {
      since: Math.floor(since / 1000),
      until: Math.floor(until / 1000),
      heal: o.heal === true,
      kinds,
      indexDir: o.indexDir ?? '.reconcile',
      appId: o.appId ?? null,
      connection: o.connection ?? null,
    },
  };
}
