/**
 * Issue #19: the Intercom emulator's ping, sent when its webhook subscription is created through
 * the admin API, is answered 200 by the REAL ingest (its signature checked with the same secret),
 * and nothing reaches the raw topic.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Admin } from 'kafkajs';
import type { Config } from '@iks/config';
import { createKafka, ensureTopics, topicName } from '@iks/kafka';
import { createIngestApp } from '../../../apps/ingest/src/ingest.app';
import { testConfig } from '../../../test/support/test-config';
import { generateDataset } from './dataset';
import { startIntercomEmulator, type IntercomEmulator } from './emulator.server';

const SECRET = 'emulator-and-ingest-secret';

describe('the Intercom emulator pings the real ingest', () => {
  let config: Config;
  let ingest: NestFastifyApplication;
  let emulator: IntercomEmulator;
  let admin: Admin;
  let ingestUrl: string;

  beforeAll(async () => {
    config = testConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET });
    admin = createKafka(config.kafka).admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka);
    ingest = await createIngestApp(config, false);
    await ingest.listen(0, '127.0.0.1');
    ingestUrl = `http://127.0.0.1:${(ingest.getHttpServer().address() as { port: number }).port}`;
    emulator = await startIntercomEmulator({
      port: 0,
      dataset: generateDataset({ seed: 3, contacts: 3, conversations: 1, tickets: 1 }),
      clientSecret: SECRET,
    });
  });
  afterAll(async () => {
    await emulator.close();
    await ingest.close();
    await admin.disconnect();
  });

  it('answers the ping of a subscription created and of one changed 200 (pong), counts both, writes nothing', async () => {
    const put = async (body: unknown) => {
      const res = await fetch(`${emulator.url}/__emulator/webhooks/subscription`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return {
        status: res.status,
        body: (await res.json()) as { ping: { status?: number; answer?: string; error?: string } },
      };
    };
    const created = await put({ url: `${ingestUrl}/webhooks/intercom`, topics: ['conversation.user.created'] });
    expect(created.status).toBe(201);
    expect(created.body.ping).toMatchObject({
      reason: 'subscription created',
      status: 200,
      answer: '{"status":"pong"}',
    });
    const changed = await put({ topics: ['conversation.user.created', 'ticket.created'] });
    expect(changed.body.ping).toMatchObject({ reason: 'subscription changed', status: 200 });

    const metrics = await (await fetch(`${ingestUrl}/metrics`)).text();
    expect(metrics).toContain('iks_ingest_pings_total{app="ingest"} 2');
    const offsets = await admin.fetchTopicOffsets(topicName('notifications', config.kafka.topicPrefix));
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(0);
  });
});
