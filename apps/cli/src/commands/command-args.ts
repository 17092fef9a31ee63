import { Command, CommanderError, InvalidArgumentError } from 'commander';

/** What a command's argument check returns: the typed arguments, or the message of a usage error (exit 2). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/**
 * A commander refusal in the words the commands use ("--since needs a value", "unknown argument
 * "--force"", "missing <topic>"); a value refused by an option's own parser keeps its message.
 */
export function usageMessage(e: CommanderError): string {
  const m = e.message.replace(/^error: /, '');
  switch (e.code) {
    case 'commander.optionMissingArgument':
      return `${longFlag(m)} needs a value`;
    case 'commander.unknownOption':
      return m.replace(/^unknown option '([^']*)'/, 'unknown argument "$1"');
    case 'commander.unknownCommand':
      return m.replace(/^unknown command '([^']*)'/, 'unknown command "$1"');
    case 'commander.missingArgument':
      return m.replace(/^missing required argument '([^']*)'/, 'missing <$1>');
    case 'commander.invalidArgument': {
      const i = m.indexOf(' is invalid. ');
      return i >= 0 ? m.slice(i + ' is invalid. '.length) : m;
    }
    default:
      return m;
  }
}

const longFlag = (message: string): string => /(--[\w-]+)/.exec(message)?.[1] ?? message;

/** Settings every command of the CLI shares: errors are thrown (never process.exit), no --help sub-command. */
export function cliCommand(name: string): Command {
  return new Command(name).helpCommand(false).allowExcessArguments(false).showSuggestionAfterError(true);
}

/**
 * Parse `args` (without the command's name) against a command declaration, silently: no output,
 * no exit. Returns the options and the command-arguments, or the usage error.
 */
export function parseWith(
  cmd: Command,
  args: readonly string[],
): Parsed<{ opts: Record<string, unknown>; args: string[] }> {
  cmd
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return { ok: false, error: usageMessage(e) };
    throw e;
  }
  return { ok: true, value: { opts: cmd.opts(), args: cmd.processedArgs as string[] } };
}

/** An option value: refused when missing (`--topic=`) or when it is the next flag (`--topic --yes`), or given twice. */
export function value(flag: string): (v: string, previous: unknown) => string {
  return (v, previous) => {
    if (v === '' || v.startsWith('--')) throw new InvalidArgumentError(`${flag} needs a value`);
    if (previous !== undefined) throw new InvalidArgumentError(`${flag} given twice`);
    return v;
  };
}

/** ISO 8601 date or date-time (a date alone is midnight UTC) → unix milliseconds. */
export function isoMs(v: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}
