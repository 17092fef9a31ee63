/**
 * Issue #19: Intercom's ping, exactly as Intercom documents it (id, delivery_status, self null),
 * signed: 200 from the real ingest over HTTP, and nothing on the raw topic.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Admin } from 'kafkajs';
import type { Config } from '@iks/config';
import { createKafka, ensureTopics, topicName } from '@iks/kafka';
import { testConfig } from '../../../test/support/test-config';
import { createIngestApp } from './ingest.app';
import { sign } from './webhook/signature';

const SECRET = 'intercom-client-secret';
const INTERCOM_PING =
  '{"type":"notification_event","app_id":"ab12cd34",' +
  '"data":{"type":"notification_event_data","item":{"type":"ping","message":"something something interzen"}},' +
  '"links":{},"id":null,"topic":"ping","delivery_status":null,"delivery_attempts":1,' +
  '"delivered_at":0,"first_sent_at":1449238939,"created_at":1449238939,"self":null}';

describe("ingest answers Intercom's ping (real broker and registry)", () => {
  let config: Config;
  let app: NestFastifyApplication;
  let admin: Admin;
  let url: string;
  const rawRecords = async () =>
    (await admin.fetchTopicOffsets(topicName('notifications', config.kafka.topicPrefix))).reduce(
      (n, p) => n + Number(p.high),
      0,
    );
  const post = (body: string, signature?: string) =>
    fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature': signature } : {}) },
    });

  beforeAll(async () => {
    config = testConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET });
    admin = createKafka(config.kafka).admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka);
    app = await createIngestApp(config, false);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}/webhooks/intercom`;
  });
  afterAll(async () => {
    await app.close();
    await admin.disconnect();
  });

  it('200 for the signed ping with id null, nothing written; 401 unsigned or badly signed; a notification after it is the only record', async () => {
    const res = await post(INTERCOM_PING, sign(INTERCOM_PING, SECRET));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'pong' });
    expect((await post(INTERCOM_PING)).status).toBe(401);
    expect((await post(INTERCOM_PING, sign(INTERCOM_PING, 'not-the-secret'))).status).toBe(401);

    // the writer answers 200 only after Kafka's ack: a notification sent after the ping is on the
    // topic when its 200 arrives, so a count of 1 shows the ping was not written
    const notification = INTERCOM_PING.replace('"id":null', '"id":"notif_after_ping"').replace(
      '"topic":"ping"',
      '"topic":"conversation.user.created"',
    );
    expect((await post(notification, sign(notification, SECRET))).status).toBe(200);
    expect(await rawRecords()).toBe(1);

    const metrics = await (await fetch(url.replace('/webhooks/intercom', '/metrics'))).text();
    expect(metrics).toContain('iks_ingest_pings_total{app="ingest"} 1');
    expect(metrics).toContain('iks_ingest_webhooks_rejected_total{reason="missing_signature",app="ingest"} 1');
    expect(metrics).toContain('iks_ingest_webhooks_rejected_total{reason="bad_signature",app="ingest"} 1');
  });
});
