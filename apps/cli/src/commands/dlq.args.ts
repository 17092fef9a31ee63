import { Command, InvalidArgumentError, Option } from 'commander';
import { cliCommand, parseWith, type Parsed } from './command-args';
import { connectionOption } from './connection-option';

export type DlqSub = 'list' | 'reprocess';
export const DLQ_SUBS: readonly DlqSub[] = ['list', 'reprocess'];

export const DLQ_USAGE = `list <topic> [--limit N] [--json] [--connection <id>]
       dlq reprocess <topic> [--where reason~<text>] [--from-beginning] [--connection <id>] [--yes]`;

export interface DlqFlags {
  readonly limit: number | null;
  readonly json: boolean;
  readonly where: string | null;
  readonly fromBeginning: boolean;
  /** `--connection`: only the dead letters of this connection's records; null: all. */
  readonly connection: string | null;
  readonly yes: boolean;
}

export interface DlqArgs {
  readonly sub: DlqSub;
  /** As given: with or without TOPIC_PREFIX and `.dlq`. */
  readonly topic: string;
  readonly flags: DlqFlags;
}

const positiveInt = (v: string, previous: unknown): number => {
  const n = Number(v);
  if (previous !== undefined) throw new InvalidArgumentError('--limit given twice');
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--limit needs a positive integer (got "${v}")`);
  return n;
};

const reasonFilter = (v: string, previous: unknown): string => {
  if (previous !== undefined) throw new InvalidArgumentError('--where given twice');
  const m = /^reason~(.+)$/s.exec(v);
  if (!m) throw new InvalidArgumentError(`--where takes reason~<text> (got "${v}")`);
  return m[1];
};

/** The options of `dlq list` / `dlq reprocess`, declared on `cmd`. */
function declareFlags(cmd: Command, sub: DlqSub): Command {
  if (sub === 'list') {
    return cmd
      .description('print every dead letter of <topic>.dlq (nothing committed) and a count by reason')
      .addOption(new Option('--limit <N>', 'print the first N letters (the counts cover all)').argParser(positiveInt))
      .option('--json', 'one JSON object a line, then the counts')
      .addOption(connectionOption("only the dead letters of this connection's records (the counts too)"));
  }
  return cmd
    .description(
      'send dead letters back to the topic they came from, so that the stage that failed processes them again; ' +
        'progress is kept, so a second reprocess does not resend them',
    )
    .addOption(
      new Option(
        '--where <reason~text>',
        'only letters whose error message or class contains <text> (case-insensitive)',
      ).argParser(reasonFilter),
    )
    .option('--from-beginning', 'consider every letter again, not only those since the last reprocess')
    .addOption(
      connectionOption(
        "only the dead letters of this connection's records (progress kept apart, in iks-dlq-reprocess.<topic>.connection.<id>)",
      ),
    )
    .option('-y, --yes', 'proceed without asking (required without a terminal)');
}

/** The declaration of `dlq list|reprocess <topic>`; main.ts adds it to the program. */
export function dlqCommand(): Command {
  const dlq = cliCommand('dlq').description('list or reprocess the dead letters of a topic');
  for (const sub of DLQ_SUBS) dlq.addCommand(dlqSubcommand(sub));
  return dlq;
}

export function dlqSubcommand(sub: DlqSub): Command {
  return declareFlags(
    cliCommand(sub).argument('<topic>', 'a consumed topic, or its .dlq (TOPIC_PREFIX optional)'),
    sub,
  );
}

/** The flags of `dlq <sub>` (after the topic). */
export function parseDlqFlags(sub: DlqSub, args: readonly string[]): Parsed<DlqFlags> {
  const parsed = parseWith(declareFlags(cliCommand(sub), sub), args);
  return parsed.ok ? { ok: true, value: dlqFlagsFrom(parsed.value.opts) } : parsed;
}

/** `list|reprocess <topic> [flags]`. */
export function parseDlqArgs(args: readonly string[]): Parsed<DlqArgs> {
  const [sub, ...rest] = args;
  if (!(DLQ_SUBS as readonly string[]).includes(sub ?? ''))
    return { ok: false, error: `unknown subcommand "${sub ?? ''}"` };
  const parsed = parseWith(dlqSubcommand(sub as DlqSub), rest);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    value: { sub: sub as DlqSub, topic: parsed.value.args[0], flags: dlqFlagsFrom(parsed.value.opts) },
  };
}

export function dlqFlagsFrom(o: {
  limit?: number;
  json?: boolean;
  where?: string;
  fromBeginning?: boolean;
  connection?: string;
  yes?: boolean;
}): DlqFlags {
  return {
    limit: o.limit ?? null,
    json: o.json === true,
    where: o.where ?? null,
    fromBeginning: o.fromBeginning === true,
    connection: o.connection ?? null,
    yes: o.yes === true,
  };
}
