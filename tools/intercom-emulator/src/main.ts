import { EnvReader } from '../../support/env-reader';
import { startIntercomEmulator } from './emulator.server';

/**
 * Runnable emulator for the local demo and benchmarks.
 *   INTERCOM_EMULATOR_PORT (8091), INTERCOM_EMULATOR_SEED (1), INTERCOM_EMULATOR_CONTACTS (200),
 *   INTERCOM_EMULATOR_CONVERSATIONS (150), INTERCOM_EMULATOR_TICKETS (80), INTERCOM_EMULATOR_TOKEN,
 *   INTERCOM_EMULATOR_RATE_LIMIT (calls per 60 s window).
 * The environment is read here only, once, and every bad value is reported together.
 */
function readConfig(env: NodeJS.ProcessEnv) {
  const r = new EnvReader(env);
  const config = {
    port: r.int('INTERCOM_EMULATOR_PORT', 8091),
    host: r.string('INTERCOM_EMULATOR_HOST', '127.0.0.1'),
    seed: r.int('INTERCOM_EMULATOR_SEED', 1),
    contacts: r.int('INTERCOM_EMULATOR_CONTACTS', 200),
    conversations: r.int('INTERCOM_EMULATOR_CONVERSATIONS', 150),
    tickets: r.int('INTERCOM_EMULATOR_TICKETS', 80),
    rateLimit: r.int('INTERCOM_EMULATOR_RATE_LIMIT', 10000),
    accessToken: r.string('INTERCOM_EMULATOR_TOKEN'),
  };
  r.done();
  return config;
}

async function main(): Promise<void> {
  const config = readConfig(process.env);
  const emulator = await startIntercomEmulator({
    port: config.port,
    host: config.host,
    accessToken: config.accessToken,
    dataset: { seed: config.seed, contacts: config.contacts, conversations: config.conversations, tickets: config.tickets },
    rateLimit: { perWindow: config.rateLimit, windowSeconds: 60 },
  });
  const d = emulator.dataset;
  process.stdout.write(
    `Intercom emulator listening on ${emulator.url} (seed ${config.seed}: ${d.contacts.length} contacts, ${d.conversations.length} conversations, ${d.tickets.length} tickets)\n` +
      `  Authorization: Bearer ${config.accessToken ? '<INTERCOM_EMULATOR_TOKEN>' : emulator.accessToken}\n`,
  );
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
