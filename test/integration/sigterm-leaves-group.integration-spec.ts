import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createKafka, topicName } from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../tools/klaviyo-emulator/src';
import { freePort } from '../support/free-port';
import { freshTopicEnv, testConfig } from '../support/test-config';
import { waitFor, waitHttp } from '../support/wait-for';

const ROOT = join(__dirname, '..', '..');

/**
 * Item 7: SIGTERM of the BUILT sink and transformer leaves the consumer group at once (LeaveGroup),
 * so a second member of the group owns every partition within seconds, not after the session
 * timeout; the process exits by itself, and its follower's throw-away group is deleted (issue #10).
 */
describe.each([
  [
    'sink',
    'apps/sink/src/main.js',
    'SINK_HTTP_PORT',
    ['events', 'profiles', 'deletions'] as const,
    (e: Record<string, string>) => e.SINK_GROUP_ID,
  ],
  [
    'transformer',
    'apps/transformer/src/main.js',
    'TRANSFORMER_HTTP_PORT',
    ['notifications'] as const,
    (e: Record<string, string>) => e.TRANSFORMER_GROUP_ID,
  ],
])('SIGTERM of the built %s', (_name, script, portVar, topicKeys, groupOf) => {
  let emulator: KlaviyoEmulator;
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', script)))
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    emulator = await startKlaviyoEmulator({ port: 0, limits: false });
  });
  afterAll(async () => emulator.close());

  it('hands its partitions to the other member within a few seconds and ends by itself', async () => {
    const topicEnv = freshTopicEnv('sig');
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
      ...topicEnv,
      [portVar]: String(port),
      KLAVIYO_BASE_URL: emulator.url,
      KLAVIYO_API_KEY: 'pk_test_sigterm_0123',
      LOG_LEVEL: 'warn',
    };
    const app = spawn(process.execPath, [join(ROOT, 'dist', script)], { env, stdio: 'ignore' });
    const exited = new Promise<string>((res) => app.once('exit', (code, signal) => res(signal ?? `code ${code}`)));
    const config = testConfig('cli', env);
    const kafka = createKafka(config.kafka);
    const other = kafka.consumer({ groupId: groupOf(env), sessionTimeout: 20_000, heartbeatInterval: 1000 });
    try {
      await waitHttp(`http://127.0.0.1:${port}/health/ready`, { timeoutMs: 90_000 });
      const topics = topicKeys.map((k) => topicName(k, topicEnv.TOPIC_PREFIX));
      const admin = kafka.admin();
      await admin.connect();
      const partitions = (await admin.fetchTopicMetadata({ topics })).topics.reduce(
        (n, t) => n + t.partitions.length,
        0,
      );
      await admin.disconnect();
      let owned = 0;
      other.on(other.events.GROUP_JOIN, ({ payload }) => {
        owned = Object.values(payload.memberAssignment).reduce((n, ps) => n + ps.length, 0);
      });
      await other.connect();
      await other.subscribe({ topics });
      await other.run({ eachMessage: async () => undefined });
      await waitFor(() => owned > 0 && owned < partitions, {
        what: 'the partitions shared by two members',
        timeoutMs: 60_000,
      });

      const t = Date.now();
      app.kill('SIGTERM');
      await waitFor(() => owned === partitions, {
        what: 'every partition moved to the other member',
        timeoutMs: 15_000,
      });
      const movedMs = Date.now() - t;
      expect(movedMs).toBeLessThan(8_000); // the session timeout is 20 s: only LeaveGroup makes this fast
      // Nest's shutdown hook closes the app, then re-raises the signal: it ends "by SIGTERM" on its
      // own, after leaving the group (a default kill would not have left it: see movedMs)
      const end = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r('still running after 15 s'), 15_000)),
      ]);
      expect(['SIGTERM', 'code 0']).toContain(end);
      // its follower (the sink's tombstones, the transformer's directory) left no group behind
      const groups = kafka.admin();
      await groups.connect();
      const left = (await groups.listGroups()).groups
        .map((g) => g.groupId)
        .filter((id) => id.startsWith(`${groupOf(env)}.`) && id !== `${groupOf(env)}.retry`);
      await groups.disconnect();
      expect(left).toEqual([]);
    } finally {
      if (app.exitCode === null) app.kill('SIGKILL');
      await other.disconnect();
    }
  }, 180_000);
});
