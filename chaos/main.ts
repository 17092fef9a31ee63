/**
 * `npm run chaos [-- --fast] [-- --only <name part>[,<name part>…]]`: fault scenarios against the REAL built apps
 * (ingest, transformer, sink as child processes on a fresh TOPIC_PREFIX and fresh group ids), the
 * Klaviyo emulator in this process, signed webhooks posted to ingest by a child process of its own
 * (webhook-poster.ts); the `account …` scenarios on a rig of three connections (account-scenarios.ts).
 * Prints one row per scenario
 * and exits 1 when any promise fails. Needs `npm run build` and the local stack (or KAFKA_BROKERS,
 * SCHEMA_REGISTRY_URL).
 */
import { runChaos } from './chaos-runner';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const results = await runChaos({ fast: args.includes('--fast'), only, log: (l) => process.stdout.write(`${l}\n`) });
  return results.every((r) => r.pass) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  },
);
