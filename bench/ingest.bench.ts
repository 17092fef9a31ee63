/**
 * Ingest throughput and latency: the real ingest app (Fastify, signature check, envelope
 * checks, Avro, Kafka acks=all) in-process on a loopback port, fed signed webhooks over
 * real HTTP with keep-alive; then the same load against a bare Fastify route that only
 * checks the signature, for the cost of everything after it.
 *
 *   npm run bench:ingest      (BENCH_N webhooks, default 20000; BENCH_C in flight, default 64;
 *                              BENCH_RATE for the fixed-rate phase, default 1000/s)
 *
 * Needs the local stack (npm run stack:up). Writes to a fresh TOPIC_PREFIX. Prints figures
 * as plain lines and asserts nothing. RSS is this process's: the app and the load generator.
 */
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import Fastify from 'fastify';
import { loadConfig } from '@iks/config';
import { join } from 'node:path';
import { createIngestApp } from '../apps/ingest/src/ingest.app';
import { verifySignature } from '../apps/ingest/src/webhook/signature';
import { freePort } from '../test/support/free-port';
import { freshTopicEnv } from '../test/support/test-config';
import { buildNotification, generateDataset, signBody } from '../tools/intercom-emulator/src';
import { waitHttp } from '../tools/support/wait-for';
import { deployedLaunch, envInt, INGEST_FALLBACK_FLAGS } from './bench-util';
import { ChildProcesses, vmHwm } from './support/child-processes';

// Bench knobs only; the app's own settings go through loadConfig.
const N = envInt('BENCH_N', 20_000);
const C = envInt('BENCH_C', 64);
const RATE = envInt('BENCH_RATE', 1000);
const FIXED_N = Math.min(N, RATE * 10);
const WARMUP = Math.min(1000, Math.max(50, Math.floor(N / 20)));
const SECRET = 'bench-client-secret';

interface Webhook {
  readonly body: Buffer;
  readonly signature: string;
}

/** N real-shaped conversation webhooks with distinct notification ids and conversation ids. */
function buildWebhooks(n: number, tag: string): Webhook[] {
  const data = generateDataset({ seed: 5, contacts: 40, conversations: 40, tickets: 0 });
  const out: Webhook[] = [];
  for (let i = 0; i < n; i++) {
    const conv = { ...data.conversations[i % data.conversations.length], id: String(1_000_000 + i) };
    const body = Buffer.from(
      JSON.stringify(
        buildNotification('conversation.user.created', conv, {
          id: `notif_${tag}_${i}`,
          appId: data.appId,
          createdAt: conv.updated_at,
        }),
      ),
    );
    out.push({ body, signature: signBody(body, SECRET) });
  }
  return out;
}

const agent = new Agent({ keepAlive: true, maxSockets: Math.max(C, 256), maxFreeSockets: Math.max(C, 256) });

function post(port: number, w: Webhook): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhooks/intercom',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': w.body.length,
          'x-hub-signature': w.signature,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(w.body);
  });
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface PhaseResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly latencies: number[];
}

/** Closed loop: C workers, each sends the next webhook when its previous one is answered. */
async function closedLoop(port: number, hooks: readonly Webhook[], concurrency: number): Promise<PhaseResult> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const latencies: number[] = [];
  const t0 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < hooks.length; i = next++) {
        const s = now();
        const status = await post(port, hooks[i]).catch(() => 0);
        latencies.push(now() - s);
        if (status === 200) ok++;
        else failed++;
      }
    }),
  );
  return { ok, failed, seconds: (now() - t0) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

/**
 * Open loop at a fixed rate: webhook i is due at t0 + i/rate whatever the answers; latency
 * is measured from when it was due (no coordinated omission). In flight is capped (bounded).
 */
async function fixedRate(
  port: number,
  hooks: readonly Webhook[],
  rate: number,
  maxInFlight = 5000,
): Promise<PhaseResult & { behind: number }> {
  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  let behind = 0;
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = now();
  for (let i = 0; i < hooks.length; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inFlight >= maxInFlight) {
      behind++;
      await new Promise((r) => setTimeout(r, 1));
    }
    inFlight++;
    pending.push(
      post(port, hooks[i])
        .catch(() => 0)
        .then((status) => {
          inFlight--;
          latencies.push(now() - due);
          if (status === 200) ok++;
          else failed++;
        }),
    );
  }
  await Promise.all(pending);
  return { ok, failed, behind, seconds: (now() - t0) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

function print(label: string, r: PhaseResult): void {
  process.stdout.write(
    `${label}: ${r.ok} acknowledged, ${r.failed} failed, ${(r.ok / r.seconds).toFixed(0)} webhooks/s, ` +
      `p50 ${pct(r.latencies, 50).toFixed(2)} ms, p99 ${pct(r.latencies, 99).toFixed(2)} ms, max ${pct(r.latencies, 100).toFixed(2)} ms\n`,
  );
}

/** A bare Fastify route with the same raw-body parsing that checks the signature and answers. */
async function startBare(secrets: string[]) {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post('/webhooks/intercom', async (req, reply) => {
    const ok = verifySignature(req.body as Buffer, req.headers['x-hub-signature'] as string | undefined, secrets);
    return reply.code(ok ? 200 : 401).send({ status: ok ? 'accepted' : 'unauthorized' });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}

async function bareRun(warm: readonly Webhook[], hooks: readonly Webhook[]): Promise<PhaseResult> {
  const bare = await startBare([SECRET]);
  try {
    await closedLoop(bare.port, warm, Math.min(C, 16));
    return await closedLoop(bare.port, hooks, C);
  } finally {
    await bare.app.close();
  }
}

async function main(): Promise<void> {
  const prefix = freshTopicEnv('bench').TOPIC_PREFIX;
  const config = loadConfig(
    {
      ...process.env,
      TOPIC_PREFIX: prefix,
      INTERCOM_CLIENT_SECRET: SECRET,
      INGEST_HOST: '127.0.0.1',
      INGEST_PORT: '0',
      LOG_LEVEL: 'warn',
    },
    'ingest',
  );
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

  process.stdout.write(
    `ingest bench: N=${N} C=${C} fixed rate ${RATE}/s × ${FIXED_N}, brokers ${config.kafka.brokers.join(',')}, topic prefix ${prefix}\n`,
  );
  const warm = buildWebhooks(WARMUP, 'warm');
  const hooks = buildWebhooks(N, 'main');
  const paced = buildWebhooks(FIXED_N, 'paced');
  process.stdout.write(
    `webhook body: ${hooks[0].body.length} bytes; ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );

  // The bare route runs before and after the ingest phases (a shared machine is noisy);
  // the ratio uses the better of the two.
  const bareBefore = await bareRun(warm, hooks);
  print(`bare Fastify signature check only (before), ${C} in flight`, bareBefore);

  const app = await createIngestApp(config, false);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  let ingest: PhaseResult;
  let fixed: PhaseResult & { behind: number };
  try {
    await closedLoop(port, warm, Math.min(C, 16));
    ingest = await closedLoop(port, hooks, C);
    print(`ingest (Kafka acks=all), ${C} in flight`, ingest);
    fixed = await fixedRate(port, paced, RATE);
    print(`ingest at a fixed ${RATE}/s (latency from the scheduled time)`, fixed);
    if (fixed.behind > 0) process.stdout.write(`fixed-rate phase hit the in-flight cap ${fixed.behind} times\n`);
  } finally {
    await app.close();
  }
  const ingestRss = peakRss;

  // The app alone: the built ingest as its own process under the same load, for its own memory.
  const child = await startIngestProcess(prefix);
  try {
    const alone = await closedLoop(child.port, hooks, C);
    print(`ingest as its own process (node dist/apps/ingest/src/main.js), ${C} in flight`, alone);
    process.stdout.write(`ingest process peak RSS (VmHWM): ${((child.peakRss() ?? 0) / 1024 / 1024).toFixed(1)} MiB\n`);
  } finally {
    await child.stop();
  }

  const bareAfter = await bareRun(warm, hooks);
  print(`bare Fastify signature check only (after), ${C} in flight`, bareAfter);
  clearInterval(sampler);
  agent.destroy();
  const bareRate = Math.max(bareBefore.ok / bareBefore.seconds, bareAfter.ok / bareAfter.seconds);

  const ratio = ingest.ok / ingest.seconds / bareRate;
  process.stdout.write(
    `ingest / bare throughput ratio: ${ratio.toFixed(3)} (${(100 * ratio).toFixed(1)} % of the bare route)\n`,
  );
  process.stdout.write(
    `peak RSS up to the end of the ingest phases: ${(ingestRss / 1024 / 1024).toFixed(1)} MiB (app + load generator, one process)\n`,
  );
  process.stdout.write(
    `peak RSS overall: ${(Math.max(peakRss, process.memoryUsage().rss) / 1024 / 1024).toFixed(1)} MiB\n`,
  );
}

async function startIngestProcess(prefix: string) {
  const port = await freePort();
  // the same V8 flags as `npm run start:ingest` (package.json), or BENCH_INGEST_NODE_FLAGS
  const flags = process.env.BENCH_INGEST_NODE_FLAGS;
  const launch = deployedLaunch(join(__dirname, '..', '..'), 'ingest', INGEST_FALLBACK_FLAGS);
  const nodeFlags = flags === undefined ? launch.nodeFlags : flags === 'none' ? [] : flags.split(' ').filter(Boolean);
  const children = new ChildProcesses();
  const child = children.start(
    'ingest',
    join(__dirname, '..', 'apps', 'ingest', 'src', 'main.js'),
    {
      ...process.env,
      TOPIC_PREFIX: prefix,
      INTERCOM_CLIENT_SECRET: SECRET,
      INGEST_HOST: '127.0.0.1',
      INGEST_PORT: String(port),
      LOG_LEVEL: 'warn',
      ...launch.env,
    },
    { nodeFlags },
  );
  try {
    await waitHttp(`http://127.0.0.1:${port}/health/ready`, { timeoutMs: 30_000 });
  } catch (e) {
    await children.stopAll();
    throw new Error(`the ingest process did not become ready: ${(e as Error).message}`, { cause: e });
  }
  return { port, peakRss: () => vmHwm(child.proc.pid), stop: () => children.stopAll() };
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`ingest bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
