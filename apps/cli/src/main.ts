import { ConfigError, loadConfig } from '@iks/config';
import { processIo, type CliIo } from './cli-io';

const USAGE = `usage: npm run cli -- <command>
  schemas register|check [--dir <folder>]   register the Avro schemas / check backward compatibility
  map <notification.json> [--contacts f] [--admins f] [--teams f] [--tags f] [--subscriptions f]
                                            preview the Klaviyo records of one notification (offline)
  backfill --since <ISO> [--until <ISO>] [--only conversations,tickets,contacts]
  replay --topic <t> (--from-offset P:O[,P:O] | --from-time <ISO> | --from-beginning) [--to-time <ISO>] [--group <g>] [--yes]
  dlq list <topic> | dlq reprocess <topic> [--where reason~<text>]`;

type Command = (args: string[], io: CliIo) => Promise<number>;

const commands: Record<string, Command> = {
  // loaded on demand: `map` runs offline without loading Kafka clients
  schemas: async (args, io) => (await import('./commands/schemas.command')).runSchemasCommand(args, loadConfig(process.env, 'cli'), io),
  map: async (args, io) => (await import('./commands/map.command')).runMapCommand(args, io),
  backfill: async (args, io) => (await import('./commands/backfill.command')).runBackfillCommand(args, loadConfig(process.env, 'cli'), io),
  replay: async (args, io) => (await import('./commands/replay.command')).runReplayCommand(args, loadConfig(process.env, 'cli'), io),
  dlq: async (args, io) => (await import('./commands/dlq.command')).runDlqCommand(args, loadConfig(process.env, 'cli'), io),
};

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.stdout(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    io.stderr(`unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return await command(args, io);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr(e.message);
      return 2;
    }
    io.stderr(`${name}: ${(e as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${String(e)}\n`);
      process.exit(1);
    },
  );
}
