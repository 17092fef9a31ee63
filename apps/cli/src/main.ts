import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '@iks/config';
import { processIo, type CliIo } from './cli-io';
import { backfillArgsFrom, backfillCommand } from './commands/backfill.args';
import { cliCommand, EXIT, usageMessage, type Parsed } from './commands/command-args';
import { connectionsAddArgsFrom, connectionsCommand, type ConnectionsArgs } from './commands/connections.args';
import { connectionsClaimArgsFrom } from './commands/connections-claim.args';
import { dlqCommand, dlqFlagsFrom, type DlqSub } from './commands/dlq.args';
import { eraseArgsFrom, eraseCommand } from './commands/erase.args';
import { mapArgsFrom, mapCommand } from './commands/map.args';
import { reconcileArgsFrom, reconcileCommand } from './commands/reconcile.args';
import { replayArgsFrom, replayCommand } from './commands/replay.args';
import { schemasCommand, type SchemasSub } from './commands/schemas.args';

export const EXIT_CODES_HELP = `
Exit codes:
  0    done (also --help)
  1    failed: an error while running, an incompatible schema, a busy consumer group, a cancelled confirmation
  2    usage or configuration error: a bad command, option or value, a bad environment variable, no --yes without a terminal
  130  interrupted (Ctrl-C); backfill and replay print how to resume`;

/** A usage error of one command (exit 2), with the command's path for the message. */
class UsageError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function orUsage<T>(path: string, parsed: Parsed<T>): T {
  if (!parsed.ok) throw new UsageError(path, parsed.error);
  return parsed.value;
}

/**
 * The whole command line, declared with commander: each command's options come from its
 * `commands/*.args.ts`; its code is imported only when it runs, so that `map` runs offline
 * without loading Kafka clients. `setCode` receives the exit code of the command that ran.
 */
function program(io: CliIo, setCode: (code: number) => void): Command {
  const config = () => loadConfig(process.env, 'cli');
  const root = cliCommand('cli')
    .usage('<command> [options]')
    .description(
      'intercom-klaviyo-sync operations (run as npm run cli -- <command> [options]; <command> --help for its options)',
    )
    .addHelpText('after', EXIT_CODES_HELP);

  const schemas = schemasCommand();
  // In each action: arguments, then the environment, then the command's code.
  for (const sub of schemas.commands) {
    sub.action(async (opts: { dir?: string }) => {
      const c = config();
      setCode(
        await (
          await import('./commands/schemas.command')
        ).runSchemas({ sub: sub.name() as SchemasSub, dir: opts.dir ?? null }, c, io),
      );
    });
  }
  const map = mapCommand().action(async (notification: string, opts: Record<string, unknown>) =>
    setCode(await (await import('./commands/map.command')).runMap(mapArgsFrom(notification, opts), io)),
  );
  const backfill = backfillCommand().action(async (opts) => {
    const a = orUsage('backfill', backfillArgsFrom(opts));
    const c = config();
    setCode(await (await import('./commands/backfill.command')).runBackfill(a, c, io));
  });
  const replay = replayCommand().action(async (opts) => {
    const a = orUsage('replay', replayArgsFrom(opts));
    const c = config();
    setCode(await (await import('./commands/replay.command')).runReplay(a, c, io));
  });
  const reconcile = reconcileCommand().action(async (opts) => {
    const a = orUsage('reconcile', reconcileArgsFrom(opts));
    const c = config();
    setCode(await (await import('./commands/reconcile.command')).runReconcile(a, c, io));
  });
  const dlq = dlqCommand();
  for (const sub of dlq.commands) {
    sub.action(async (topic: string, opts) => {
      const c = config();
      setCode(
        await (
          await import('./commands/dlq.command')
        ).runDlq({ sub: sub.name() as DlqSub, topic, flags: dlqFlagsFrom(opts) }, c, io),
      );
    });
  }
  const erase = eraseCommand().action(async (opts) => {
    const a = orUsage('erase', eraseArgsFrom(opts));
    const c = config();
    setCode(await (await import('./commands/erase.command')).runErase(a, c, io));
  });
  const connections = connectionsCommand();
  const runConnections = async (a: ConnectionsArgs) => {
    const c = config();
    // env: where `--klaviyo-private-key env:<VARIABLE>` and the other secrets named so are read
    setCode(await (await import('./commands/connections.command')).runConnections(a, c, io, { env: process.env }));
  };
  for (const sub of connections.commands) {
    const name = sub.name() as ConnectionsArgs['sub'] | 'claim';
    if (name === 'claim')
      sub.action(async (id: string, opts: { fromBeginning?: boolean; yes?: boolean }) => {
        const a = orUsage('connections claim', connectionsClaimArgsFrom(id, opts));
        const c = config();
        setCode(await (await import('./commands/connections-claim.command')).runConnectionsClaim(a, c, io));
      });
    else if (name === 'add')
      sub.action(async (opts) =>
        runConnections({ sub: 'add', add: orUsage('connections add', connectionsAddArgsFrom(opts)) }),
      );
    else if (name === 'list')
      sub.action(async (opts: { json?: boolean }) => runConnections({ sub: 'list', json: opts.json === true }));
    else if (name === 'reseal') sub.action(async () => runConnections({ sub: 'reseal' }));
    else if (name === 'remove')
      sub.action(async (id: string, opts: { yes?: boolean }) =>
        runConnections({ sub: 'remove', id, yes: opts.yes === true }),
      );
    else sub.action(async (id: string) => runConnections({ sub: name as 'pause' | 'resume', id }));
  }
  for (const c of [schemas, map, backfill, reconcile, replay, dlq, erase, connections]) root.addCommand(c);

  // Output through the CliIo; errors thrown instead of process.exit, tagged with the command.
  const route = (cmd: Command, path: string): void => {
    cmd
      .configureOutput({
        writeOut: (s) => io.stdout(s.replace(/\n$/, '')),
        writeErr: (s) => io.stderr(s.replace(/\n$/, '')),
        outputError: () => undefined,
      })
      .exitOverride((e) => {
        if (e.exitCode === 0 || e.code === 'commander.help') throw e;
        throw new UsageError(path, usageMessage(e));
      });
    for (const sub of cmd.commands) route(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  route(root, '');
  return root;
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const cli = program(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    cli.outputHelp();
    return EXIT.usage;
  }
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help (0); a command group without its subcommand (`dlq`): its help went to stderr (2)
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      const help = e.path ? `npm run cli -- ${e.path} --help` : 'npm run cli -- --help';
      io.stderr(`${e.path || 'cli'}: ${e.message}\n(${help} lists the options)`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.stderr(e.message);
      return EXIT.usage;
    }
    io.stderr(`${argv[0]}: ${(e as Error).message}`);
    return EXIT.failure;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${String(e)}\n`);
      process.exit(EXIT.failure);
    },
  );
}
