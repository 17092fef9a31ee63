import { Agent, request } from 'node:http';
import { KLAVIYO_REVISION } from '@iks/domain';
import { EnvReader } from '../../support/env-reader';
import { startKlaviyoEmulator } from '../src/klaviyo-emulator.server';

/**
 * Measures how many events per second the emulator accepts through POST /api/event-bulk-create-jobs
 * (1,000 events per request, rate limits off). Targets KLAVIYO_EMULATOR_URL if set (an emulator in
 * another process, started with KLAVIYO_EMULATOR_LIMITS=off), else starts one in this process.
 * BENCH_SECONDS (default 10), BENCH_CONCURRENCY (default 4), BENCH_BATCH (default 1000).
 */
async function main(): Promise<void> {
  const env = new EnvReader();
  const seconds = env.int('BENCH_SECONDS', 10, 1);
  const concurrency = env.int('BENCH_CONCURRENCY', 4, 1);
  const batch = env.int('BENCH_BATCH', 1000, 1);
  const remote = env.string('KLAVIYO_EMULATOR_URL');
  env.done();
  const local = remote ? undefined : await startKlaviyoEmulator({ limits: false });
  const url = new URL(remote ?? local!.url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let seq = 0;
  const body = (): string => {
    const entries: string[] = new Array(batch);
    for (let i = 0; i < batch; i++) {
      const n = seq++;
      entries[i] =
        `{"type":"event-bulk-create","attributes":{"profile":{"data":{"type":"profile","attributes":{"email":"user${n % 5000}@example.com"}}},` +
        `"events":{"data":[{"type":"event","attributes":{"properties":{"conversation_id":"${n}","admin":"a1","tags":["vip","billing"]},` +
        `"time":"2026-11-20T10:00:00Z","unique_id":"ev-${n}","metric":{"data":{"type":"metric","attributes":{"name":"Intercom Conversation Closed"}}}}}]}}}`;
    }
    return `{"data":{"type":"event-bulk-create-job","attributes":{"events-bulk-create":{"data":[${entries.join(',')}]}}}}`;
  };
  const post = (payload: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: '/api/event-bulk-create-jobs',
          method: 'POST',
          headers: {
            Authorization: 'Klaviyo-API-Key pk_bench',
            revision: KLAVIYO_REVISION,
            'Content-Type': 'application/vnd.api+json',
            'Content-Length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const deadline = Date.now() + seconds * 1000;
  let accepted = 0;
  let failed = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const status = await post(body());
        if (status === 202) accepted += batch;
        else failed++;
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  process.stdout.write(
    `accepted ${accepted} events in ${elapsed.toFixed(1)} s = ${Math.round(accepted / elapsed)} events/s (${failed} failed requests, batch ${batch}, concurrency ${concurrency}, ${local ? 'same process' : 'separate process'})\n`,
  );
  agent.destroy();
  await local?.close();
}

void main();
