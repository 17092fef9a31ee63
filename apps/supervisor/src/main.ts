import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError, isLoopbackHost, loadConfig, LOCAL_DEV_CLIENT_SECRET } from '@iks/config';
import type { Kafka } from 'kafkajs';
import { AvroCodec, ensureTopics, KAFKA, KafkaModule } from '@iks/kafka';
import { createContext } from '@iks/ops';

/**
 * `npm start`: the whole pipeline on one machine, for a newcomer.
 * - no KAFKA_BROKERS → starts the local stack (scripts/stack.sh up) and stops it on exit;
 * - registers the schemas and creates the topics;
 * - no KLAVIYO_API_KEY → delivers to the Klaviyo emulator (said in the first lines);
 * - no INTERCOM_ACCESS_TOKEN → the transformer reads contacts/admins/teams from the Intercom emulator,
 *   whose webhook subscription is then pointed at ingest: its ping, answered, shows in one line;
 * - no INTERCOM_CLIENT_SECRET → ingest binds 127.0.0.1 and accepts the published local development
 *   secret (said too); with INGEST_HOST on a network interface it refuses to start instead;
 * - runs ingest, transformer, sink, the reconciler and the console as child processes, logs prefixed by app; Ctrl-C stops all;
 * - no LOG_FORMAT → the children log readable lines when this terminal is a TTY, JSON lines otherwise
 *   (their own stdout is our pipe, so they cannot tell by themselves).
 */

const ROOT = join(__dirname, '..', '..', '..', '..');
const DIST = join(ROOT, 'dist');
export const LOCAL_CLIENT_SECRET = LOCAL_DEV_CLIENT_SECRET;
export const LOCAL_KLAVIYO_KEY = 'pk_local_emulator';
const KLAVIYO_EMULATOR_PORT = 8090;
/**
 * As `npm run start:ingest`: a small young generation and heap keep ingest's peak RSS under
 * 130 MiB under load. 4 MiB semi-spaces, not 2: with 2, a scavenge every few hundred webhooks
 * made GC a quarter of ingest's CPU (issue #20); 4 halves the scavenges for a few MiB of RSS.
 */
const INGEST_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=128'];
/**
 * As every `npm run start:<app>` and the Dockerfile: two glibc malloc arenas instead of up to 8 a
 * core, one for each thread that allocates (libuv's pool, V8's workers). Each app's resident set
 * outside the V8 heap and its buffers went from 63-73 to 59-61 MiB in the e2e bench (issue #21);
 * a MALLOC_ARENA_MAX in the environment is kept.
 */
const MALLOC_ARENAS = '2';
const INTERCOM_EMULATOR_PORT = 8091;
/** How often the Intercom emulator pings ingest again after the subscription's first ping (Intercom: "from time to time"). */
const INTERCOM_EMULATOR_PING_INTERVAL_MS = 10 * 60_000;

const children: Array<{ name: string; proc: ChildProcess }> = [];
let stackStarted = false;
let stopping = false;

function say(line: string): void {
  process.stdout.write(`[start] ${line}\n`);
}

function run(name: string, script: string, env: NodeJS.ProcessEnv, nodeFlags: string[] = []): ChildProcess {
  const proc = spawn(process.execPath, [...nodeFlags, join(DIST, script)], {
    env: { MALLOC_ARENA_MAX: MALLOC_ARENAS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pad = name.padEnd(11);
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream }).on('line', (l) => process.stdout.write(`[${pad}] ${l}\n`));
  }
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
  children.push({ name, proc });
  return proc;
}

async function waitHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status < 500) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Saves the Intercom emulator's webhook subscription with ingest's URL, as a user does in
 * Intercom's Developer Hub: the emulator pings ingest and prints the answer (one line). Only an
 * unhealthy answer adds a line here.
 */
async function subscribeEmulator(webhookUrl: string): Promise<void> {
  try {
    const res = await fetch(`http://127.0.0.1:${INTERCOM_EMULATOR_PORT}/__emulator/webhooks/subscription`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: webhookUrl }),
      signal: AbortSignal.timeout(10_000),
    });
    const out = (await res.json()) as { ping?: { status?: number; error?: string } };
    const status = out.ping?.status;
    if (!res.ok || status === undefined || status < 200 || status >= 300) {
      say(
        `WARNING: ingest did not answer the Intercom emulator's ping with 2xx (${status ?? out.ping?.error ?? `admin API ${res.status}`}): check INTERCOM_CLIENT_SECRET`,
      );
    }
  } catch (e) {
    say(`WARNING: could not save the Intercom emulator's webhook subscription: ${(e as Error).message}`);
  }
}

async function shutdown(code: number): Promise<never> {
  stopping = true;
  for (const { proc } of [...children].reverse()) if (proc.exitCode === null) proc.kill('SIGTERM');
  await Promise.all(
    children.map(({ proc }) => (proc.exitCode === null ? new Promise((r) => proc.once('exit', r)) : undefined)),
  );
  if (stackStarted) spawnSync('bash', [join(ROOT, 'scripts', 'stack.sh'), 'down'], { stdio: 'inherit' });
  process.exit(code);
}

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const usingEmulator = !env.KLAVIYO_API_KEY;
  if (usingEmulator) {
    say(
      `KLAVIYO_API_KEY is not set: delivering to the Klaviyo EMULATOR on http://127.0.0.1:${KLAVIYO_EMULATOR_PORT} (set KLAVIYO_API_KEY to deliver to Klaviyo)`,
    );
    env.KLAVIYO_API_KEY = LOCAL_KLAVIYO_KEY;
    env.KLAVIYO_BASE_URL = `http://127.0.0.1:${KLAVIYO_EMULATOR_PORT}`;
  } else {
    say(`delivering to Klaviyo at ${env.KLAVIYO_BASE_URL ?? 'https://a.klaviyo.com'}`);
  }
  if (!env.INTERCOM_CLIENT_SECRET?.trim()) {
    // The local secret is published: ingest accepts it only on a loopback bind (libs/config).
    if (!env.INGEST_HOST?.trim()) env.INGEST_HOST = '127.0.0.1';
    if (isLoopbackHost(env.INGEST_HOST.trim())) {
      say(
        `INTERCOM_CLIENT_SECRET is not set: ingest listens on ${env.INGEST_HOST} only and accepts webhooks signed with the PUBLISHED local development secret "${LOCAL_CLIENT_SECRET}"`,
      );
    }
  }
  const intercomEmulator = !env.INTERCOM_ACCESS_TOKEN;
  if (intercomEmulator) {
    say(
      `INTERCOM_ACCESS_TOKEN is not set: contacts, admins and teams are read, and gaps reconciled, from the Intercom EMULATOR on http://127.0.0.1:${INTERCOM_EMULATOR_PORT}`,
    );
    env.INTERCOM_ACCESS_TOKEN = 'emulator-access-token';
    env.INTERCOM_BASE_URL = `http://127.0.0.1:${INTERCOM_EMULATOR_PORT}`;
  }

  if (!env.LOG_FORMAT?.trim()) env.LOG_FORMAT = process.stdout.isTTY ? 'pretty' : 'json';
  const config = loadConfig(env, 'ingest'); // validates everything the three apps read
  const consoleConfig = loadConfig(env, 'console'); // CONSOLE_HOST off loopback needs CONSOLE_TOKEN: fail now, not later
  const consoleUrl = `http://${consoleConfig.console.host}:${consoleConfig.console.port}/metrics`;
  say(
    `delivery console: ${consoleUrl}${consoleConfig.console.operatorToken ? '' : ' (read-only: set CONSOLE_OPERATOR_TOKEN to reprocess or replay from it)'}`,
  );
  if (!process.env.KAFKA_BROKERS) {
    const wasRunning = spawnSync('bash', [join(ROOT, 'scripts', 'stack.sh'), 'status'], {
      encoding: 'utf8',
    }).stdout.includes('kafka running');
    say(
      `KAFKA_BROKERS is not set: ${wasRunning ? 'using the local stack already running' : 'starting the local Kafka broker and schema registry (npm run stack:up)'}`,
    );
    const up = spawnSync('bash', [join(ROOT, 'scripts', 'stack.sh'), 'up'], { stdio: 'inherit' });
    if (up.status !== 0) throw new Error('the local stack did not start (see the lines above)');
    stackStarted = !wasRunning; // stopped on exit only if this run started it
  }

  const kafkaContext = await createContext(config, 'supervisor', KafkaModule);
  const admin = kafkaContext.get<Kafka>(KAFKA).admin();
  await admin.connect();
  const created = await ensureTopics(admin, config.kafka);
  await admin.disconnect();
  await kafkaContext.get(AvroCodec).registerAll();
  await kafkaContext.close();
  say(
    `schemas registered at ${config.kafka.schemaRegistryUrl}; ${created.length} topic(s) created on ${config.kafka.brokers.join(',')}`,
  );

  if (usingEmulator) {
    run('klaviyo-emu', 'tools/klaviyo-emulator/src/main.js', {
      ...env,
      KLAVIYO_EMULATOR_PORT: String(KLAVIYO_EMULATOR_PORT),
    });
    await waitHttp(`http://127.0.0.1:${KLAVIYO_EMULATOR_PORT}/__emulator/stats`);
  }
  if (intercomEmulator) {
    run('intercom-emu', 'tools/intercom-emulator/src/main.js', {
      ...env,
      INTERCOM_EMULATOR_PORT: String(INTERCOM_EMULATOR_PORT),
      INTERCOM_EMULATOR_WEBHOOK_PING_INTERVAL_MS:
        env.INTERCOM_EMULATOR_WEBHOOK_PING_INTERVAL_MS ?? String(INTERCOM_EMULATOR_PING_INTERVAL_MS),
    });
    await waitHttp(`http://127.0.0.1:${INTERCOM_EMULATOR_PORT}/__emulator/requests`);
  }
  run('ingest', 'apps/ingest/src/main.js', env, INGEST_NODE_FLAGS);
  run('transformer', 'apps/transformer/src/main.js', env);
  run('sink', 'apps/sink/src/main.js', env);
  run('console', 'apps/console/src/main.js', env);
  // continuous reconcile (README "Gaps"): against Intercom, or the Intercom emulator when no token is set
  run('reconciler', 'apps/reconciler/src/main.js', env);
  await waitHttp(`http://127.0.0.1:${config.ingest.metricsPort || config.ingest.port}/health/ready`, 120_000);
  await waitHttp(`http://127.0.0.1:${config.transformer.httpPort}/health/ready`, 120_000);
  await waitHttp(`http://127.0.0.1:${config.sink.httpPort}/health/ready`, 120_000);
  const consoleHost = ['0.0.0.0', '::'].includes(consoleConfig.console.host) ? '127.0.0.1' : consoleConfig.console.host;
  await waitHttp(`http://${consoleHost}:${consoleConfig.console.port}/health/live`, 120_000);
  say('pipeline ready');
  const webhookUrl = `http://${['0.0.0.0', '::'].includes(config.ingest.host) ? '127.0.0.1' : config.ingest.host}:${config.ingest.port}/webhooks/intercom`;
  if (intercomEmulator) await subscribeEmulator(webhookUrl);
  say(`delivery console           ${consoleUrl}`);
  say(`send Intercom webhooks to  ${webhookUrl}`);
  say(
    `delivering to              ${env.KLAVIYO_BASE_URL ?? 'https://a.klaviyo.com'}${usingEmulator ? ' (emulator; see GET /__emulator/metrics)' : ''}`,
  );
  say('try it: npm run demo   ·   stop: Ctrl-C');
}

if (!existsSync(join(DIST, 'apps', 'ingest', 'src', 'main.js'))) {
  process.stderr.write('run `npm run build` first (npm start does it)\n');
  process.exit(1);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));
main().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`start: ${e.message}\n`);
  else process.stderr.write(`start: ${(e as Error).message}\n`);
  void shutdown(1);
});
