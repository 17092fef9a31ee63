import { readFileSync } from 'node:fs';
import { EnvReader } from '../../support/env-reader';
import { startIntercomEmulator } from './emulator.server';
import { DEFAULT_SENDER, describePing } from './webhook.sender';
import type { IntercomAppOptions, WorkspaceOptions } from './workspace';

/** The optional INTERCOM_EMULATOR_CONFIG file: `{ "apps": [IntercomAppOptions], "workspaces": [WorkspaceOptions] }`. */
interface EmulatorConfigFile {
  readonly apps?: readonly IntercomAppOptions[];
  readonly workspaces?: readonly WorkspaceOptions[];
}

function readConfigFile(path: string | undefined): EmulatorConfigFile {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`INTERCOM_EMULATOR_CONFIG ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`INTERCOM_EMULATOR_CONFIG ${path}: expected a JSON object {"apps": [...], "workspaces": [...]}`);
  return parsed as EmulatorConfigFile;
}

/**
 * Runnable emulator for the local demo and benchmarks.
 *   INTERCOM_EMULATOR_PORT (8091), INTERCOM_EMULATOR_SEED (1), INTERCOM_EMULATOR_CONTACTS (200),
 *   INTERCOM_EMULATOR_CONVERSATIONS (150), INTERCOM_EMULATOR_TICKETS (80), INTERCOM_EMULATOR_TOKEN,
 *   INTERCOM_EMULATOR_RATE_LIMIT (calls per 60 s window).
 * Webhook delivery (POST /__emulator/webhooks), only with INTERCOM_EMULATOR_WEBHOOK_URL:
 *   INTERCOM_EMULATOR_WEBHOOK_SECRET (default INTERCOM_CLIENT_SECRET, else local-dev-secret),
 *   _TIMEOUT_MS (5000), _RETRY_DELAY_MS (60000), _PAUSE_AFTER_FAILURES (1000),
 *   _FAILURE_WINDOW_MS (900000), _PAUSE_MS (900000), each prefixed INTERCOM_EMULATOR_WEBHOOK.
 * A subscription can also be created or changed later (PUT /__emulator/webhooks/subscription),
 * which pings the endpoint; INTERCOM_EMULATOR_WEBHOOK_PING_INTERVAL_MS (0: off) pings it
 * periodically too. One line is printed per ping.
 * More workspaces and Intercom apps (OAuth clients, webhook signers): INTERCOM_EMULATOR_CONFIG=<file.json>
 * (`{"apps":[…],"workspaces":[…]}`, see README); EU / AU workspaces are served on
 * INTERCOM_EMULATOR_EU_PORT / INTERCOM_EMULATOR_AU_PORT (default 0: a free port, printed).
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
    webhookUrl: r.string('INTERCOM_EMULATOR_WEBHOOK_URL'),
    webhookSecret: r.string(
      'INTERCOM_EMULATOR_WEBHOOK_SECRET',
      r.string('INTERCOM_CLIENT_SECRET', 'local-dev-secret').split(',')[0].trim(),
    ),
    webhookTimeoutMs: r.int('INTERCOM_EMULATOR_WEBHOOK_TIMEOUT_MS', DEFAULT_SENDER.timeoutMs, 1),
    webhookRetryDelayMs: r.int('INTERCOM_EMULATOR_WEBHOOK_RETRY_DELAY_MS', DEFAULT_SENDER.retryDelayMs),
    webhookPauseAfterFailures: r.int(
      'INTERCOM_EMULATOR_WEBHOOK_PAUSE_AFTER_FAILURES',
      DEFAULT_SENDER.pauseAfterFailures,
      1,
    ),
    webhookFailureWindowMs: r.int('INTERCOM_EMULATOR_WEBHOOK_FAILURE_WINDOW_MS', DEFAULT_SENDER.failureWindowMs, 1),
    webhookPauseMs: r.int('INTERCOM_EMULATOR_WEBHOOK_PAUSE_MS', DEFAULT_SENDER.pauseMs),
    webhookPingIntervalMs: r.int('INTERCOM_EMULATOR_WEBHOOK_PING_INTERVAL_MS', 0),
    configPath: r.string('INTERCOM_EMULATOR_CONFIG'),
    euPort: r.int('INTERCOM_EMULATOR_EU_PORT', 0),
    auPort: r.int('INTERCOM_EMULATOR_AU_PORT', 0),
  };
  r.done();
  return config;
}

async function main(): Promise<void> {
  const config = readConfig(process.env);
  const file = readConfigFile(config.configPath);
  const emulator = await startIntercomEmulator({
    apps: file.apps,
    workspaces: file.workspaces,
    regionPorts: { EU: config.euPort, AU: config.auPort },
    // the other workspaces' subscriptions deliver with the same policy as the default one
    webhookDefaults: {
      timeoutMs: config.webhookTimeoutMs,
      retryDelayMs: config.webhookRetryDelayMs,
      pauseAfterFailures: config.webhookPauseAfterFailures,
      failureWindowMs: config.webhookFailureWindowMs,
      pauseMs: config.webhookPauseMs,
    },
    port: config.port,
    host: config.host,
    accessToken: config.accessToken,
    dataset: {
      seed: config.seed,
      contacts: config.contacts,
      conversations: config.conversations,
      tickets: config.tickets,
    },
    rateLimit: { perWindow: config.rateLimit, windowSeconds: 60 },
    clientSecret: config.webhookSecret,
    pingIntervalMs: config.webhookPingIntervalMs,
    onPing: (result) => process.stdout.write(`${describePing(result)}\n`),
    webhooks: config.webhookUrl
      ? {
          url: config.webhookUrl,
          secret: config.webhookSecret,
          timeoutMs: config.webhookTimeoutMs,
          retryDelayMs: config.webhookRetryDelayMs,
          pauseAfterFailures: config.webhookPauseAfterFailures,
          failureWindowMs: config.webhookFailureWindowMs,
          pauseMs: config.webhookPauseMs,
        }
      : undefined,
  });
  const d = emulator.dataset;
  process.stdout.write(
    `Intercom emulator listening on ${emulator.url} (seed ${config.seed}: ${d.contacts.length} contacts, ${d.conversations.length} conversations, ${d.tickets.length} tickets)\n` +
      `  Authorization: Bearer ${config.accessToken ? '<INTERCOM_EMULATOR_TOKEN>' : emulator.accessToken}\n`,
  );
  for (const ws of emulator.workspaces.list().filter((w) => !w.isDefault))
    process.stdout.write(
      `  workspace ${ws.appId} (${ws.region}) on ${emulator.regionUrl(ws.region)}: ${ws.dataset.contacts.length} contacts\n`,
    );
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
