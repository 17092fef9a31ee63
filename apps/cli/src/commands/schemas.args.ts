import { Command, Option } from 'commander';
import { cliCommand, parseWith, value, type Parsed } from './command-args';

export type SchemasSub = 'register' | 'check';
const SUBS: readonly SchemasSub[] = ['register', 'check'];

export interface SchemasArgs {
  readonly sub: SchemasSub;
  /** Folder of .avsc files; null = the project's schemas/. */
  readonly dir: string | null;
}

export function schemasSubcommand(sub: SchemasSub): Command {
  return cliCommand(sub)
    .description(
      sub === 'register'
        ? "register every topic's value schema (subject <topic>-value, compatibility BACKWARD) and print the ids"
        : 'check every local schema against the registered one; exit 1 naming the subject and the rule a change breaks',
    )
    .addOption(
      new Option('--dir <folder>', 'another folder of .avsc files (default schemas/)').argParser(value('--dir')),
    );
}

/** The declaration of `schemas register|check`; main.ts adds it to the program. */
export function schemasCommand(): Command {
  const schemas = cliCommand('schemas').description(
    'register the Avro schemas of the topics, or check them for backward compatibility',
  );
  for (const sub of SUBS) schemas.addCommand(schemasSubcommand(sub));
  return schemas;
}

export function parseSchemasArgs(args: readonly string[]): Parsed<SchemasArgs> {
  const [sub, ...rest] = args;
  if (!(SUBS as readonly string[]).includes(sub ?? ''))
    return { ok: false, error: `unknown subcommand "${sub ?? ''}"` };
  const parsed = parseWith(schemasSubcommand(sub as SchemasSub), rest);
  return parsed.ok
    ? { ok: true, value: { sub: sub as SchemasSub, dir: (parsed.value.opts.dir as string | undefined) ?? null } }
    : parsed;
}
