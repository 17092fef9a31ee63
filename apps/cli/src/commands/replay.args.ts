import { Command, Option } from 'commander';
import type { ReplayFrom } from '@iks/replay';
import { cliCommand, isoMs, parseWith, value, type Parsed } from './command-args';
import { connectionOption } from './connection-option';

export const REPLAY_USAGE =
  '--topic <topic> (--from-offset P:O[,P:O...] | --from-time <ISO> | --from-beginning) [--to-time <ISO>] [--group <group>] [--connection <id>] [--yes]';

export interface ReplayArgs {
  readonly topic: string;
  readonly from: ReplayFrom;
  readonly toTime: number | null;
  readonly group: string | null;
  /** `--connection`: only this connection's records are replayed; null: every record. */
  readonly connection: string | null;
  readonly yes: boolean;
}

interface ReplayOptions {
  topic?: string;
  fromOffset?: string;
  fromTime?: string;
  fromBeginning?: boolean;
  toTime?: string;
  group?: string;
  connection?: string;
  yes?: boolean;
}

/** The declaration of `replay` (options, help); main.ts adds it to the program, parseReplayArgs parses with it. */
export function replayCommand(): Command {
  return cliCommand('replay')
    .description(
      're-read a topic from a position: the raw topic re-runs the mapping, the klaviyo.* topics re-deliver to Klaviyo, ' +
        'through a separate consumer group up to the end captured at start; with --group, reset a stopped group instead',
    )
    .usage(REPLAY_USAGE)
    .addOption(
      new Option(
        '--topic <topic>',
        'intercom.notifications.v1, klaviyo.events.v1, klaviyo.profiles.v1 or klaviyo.deletions.v1 (TOPIC_PREFIX optional)',
      ).argParser(value('--topic')),
    )
    .addOption(
      new Option('--from-offset <P:O,...>', 'start at these offsets, partition:offset, like 0:1200,1:1170').argParser(
        value('--from-offset'),
      ),
    )
    .addOption(
      new Option('--from-time <ISO>', 'start at the first record at or after this time').argParser(
        value('--from-time'),
      ),
    )
    .option('--from-beginning', 'start at the earliest record the log holds')
    .addOption(
      new Option('--to-time <ISO>', 'stop at the first record at or after this time (not with --group)').argParser(
        value('--to-time'),
      ),
    )
    .addOption(
      new Option(
        '--group <group>',
        'reset this STOPPED consumer group instead; its app re-reads when it starts',
      ).argParser(value('--group')),
    )
    .addOption(
      connectionOption(
        "only this connection's records are replayed (the others of the range are passed over; not with --group)",
      ),
    )
    .option('-y, --yes', 'proceed without asking (required without a terminal)');
}

export function parseReplayArgs(args: readonly string[]): Parsed<ReplayArgs> {
  const parsed = parseWith(replayCommand(), args);
  return parsed.ok ? replayArgsFrom(parsed.value.opts) : parsed;
}

/** The combination rules commander does not know: one start, a valid window, --to-time only without --group. */
export function replayArgsFrom(o: ReplayOptions): Parsed<ReplayArgs> {
  const { topic } = o;
  if (!topic) return { ok: false, error: '--topic is required' };
  const starts = [o.fromBeginning === true, o.fromOffset !== undefined, o.fromTime !== undefined].filter(
    Boolean,
  ).length;
  if (starts !== 1) return { ok: false, error: 'give exactly one of --from-offset, --from-time, --from-beginning' };

  let from: ReplayFrom = { kind: 'beginning' };
  if (o.fromOffset !== undefined) {
    const offsets: Array<{ partition: number; offset: bigint }> = [];
    for (const part of o.fromOffset
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const m = /^(\d+):(\d+)$/.exec(part);
      if (!m) return { ok: false, error: `--from-offset "${part}" must be partition:offset, like 0:1200` };
      const partition = Number(m[1]);
      if (offsets.some((x) => x.partition === partition))
        return { ok: false, error: `--from-offset names partition ${partition} twice` };
      offsets.push({ partition, offset: BigInt(m[2]) });
    }
    if (offsets.length === 0) return { ok: false, error: '--from-offset needs at least one partition:offset' };
    from = { kind: 'offsets', offsets };
  }
  if (o.fromTime !== undefined) {
    const ms = isoMs(o.fromTime);
    if (ms === undefined) return { ok: false, error: `--from-time "${o.fromTime}" is not an ISO 8601 date` };
    from = { kind: 'time', ms };
  }
  let toTime: number | null = null;
  if (o.toTime !== undefined) {
    const ms = isoMs(o.toTime);
    if (ms === undefined) return { ok: false, error: `--to-time "${o.toTime}" is not an ISO 8601 date` };
    if (from.kind === 'time' && ms <= from.ms) return { ok: false, error: '--to-time must be after --from-time' };
    toTime = ms;
  }
  const group = o.group ?? null;
  if (group !== null && toTime !== null) {
    return {
      ok: false,
      error:
        '--to-time applies to a replay through a separate group only: omit --group (a reset group reads on to the end)',
    };
  }
  const connection = o.connection ?? null;
  if (group !== null && connection !== null) {
    return {
      ok: false,
      error:
        "--connection applies to a replay through a separate group only: omit --group (a reset group re-reads every connection's records)",
    };
  }
  return { ok: true, value: { topic, from, toTime, group, connection, yes: o.yes === true } };
}
