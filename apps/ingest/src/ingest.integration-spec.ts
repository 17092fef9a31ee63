import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Config } from '@iks/config';
import { AvroCodec, createKafka, topicName, type TopicRecords } from '@iks/kafka';
import { freePort } from '../../../test/support/free-port';
import { PrivateBroker } from '../../../test/support/private-broker';
import { TEST_KEY_RING, testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { createIngestApp, listenOps } from './ingest.app';
import { sign } from './webhook/signature';

const SECRET = 'intercom-client-secret';

function notification(id: string, topic = 'conversation.user.created', itemId = '1001') {
  // Deliberately odd spacing and non-ASCII: the stored body must be these exact bytes.
  return `{"type":"notification_event","app_id":"abc123","data":{"type":"notification_event_data","item":{"type":"conversation","id":"${itemId}","title":"Ciao — è  ok"}},"id":"${id}","topic":"${topic}","delivery_status":"pending","delivery_attempts":1,"first_sent_at":1700000001,"created_at":1700000000}`;
}

async function post(app: NestFastifyApplication, body: string, signature?: string) {
  return app.inject({
    method: 'POST',
    url: '/webhooks/intercom',
    payload: body,
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature': signature } : {}) },
  });
}

describe('ingest webhook → Kafka (real broker and registry)', () => {
  let config: Config;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    config = testConfig('ingest', {
      CONNECTION_SECRET_KEYS: TEST_KEY_RING,
      INTERCOM_CLIENT_SECRET: `old-secret,${SECRET}`,
      INGEST_BODY_LIMIT_BYTES: '4096',
    });
    app = await createIngestApp(config, false);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => app.close());

  it('answers 200 only after the Avro record is on the topic, with the raw body byte-exact', async () => {
    const body = notification('notif_abc', 'conversation.user.created', '1001');
    const res = await post(app, body, sign(body, SECRET));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'accepted', id: 'notif_abc' });

    const kafka = createKafka(config.kafka);
    const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}check` });
    const codec = new AvroCodec(config.kafka);
    const seen: Array<{ key: string; value: TopicRecords['notifications'] }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topicName('notifications', config.kafka.topicPrefix), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void seen.push({ key: message.key!.toString(), value: await codec.decodeAs('notifications', message.value!) }),
    });
    try {
      await waitFor(() => seen.length >= 1, { what: 'the record' });
    } finally {
      await consumer.disconnect();
    }
    expect(seen[0].key).toBe('conversation:1001');
    expect(seen[0].value).toMatchObject({
      notification_id: 'notif_abc',
      topic: 'conversation.user.created',
      app_id: 'abc123',
      created_at: 1700000000,
      delivery_attempts: 1,
      first_sent_at: 1700000001,
      source: 'webhook',
    });
    expect(Buffer.from(seen[0].value.body, 'utf8').equals(Buffer.from(body, 'utf8'))).toBe(true);
  });

  it('401 without or with a wrong signature, 400 on a bad envelope, 413 over the limit, 200 on ping', async () => {
    const body = notification('notif_x');
    const missing = await post(app, body);
    expect(missing.statusCode).toBe(401);
    expect(missing.json().message).toMatch(/missing/);
    expect((await post(app, body, sign(body, 'wrong'))).statusCode).toBe(401);

    const broken = '{"type":"notification_event",';
    const bad = await post(app, broken, sign(broken, SECRET));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/not valid JSON/);
    const noTopic = JSON.stringify({
      type: 'notification_event',
      id: 'n',
      app_id: 'a',
      created_at: 1,
      data: { item: {} },
    });
    expect((await post(app, noTopic, sign(noTopic, SECRET))).json().message).toBe('topic is missing');

    const big = notification('notif_big').replace('Ciao', 'x'.repeat(5000));
    expect((await post(app, big, sign(big, SECRET))).statusCode).toBe(413);

    const ping = JSON.stringify({
      type: 'notification_event',
      id: 'notif_ping',
      topic: 'ping',
      app_id: 'a',
      created_at: 1,
      data: { item: { type: 'ping', message: 'hi' } },
    });
    expect((await post(app, ping, sign(ping, SECRET))).statusCode).toBe(200);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('iks_ingest_pings_total{app="ingest"} 1');
    expect(metrics).toContain('iks_ingest_webhooks_rejected_total{reason="missing_signature",app="ingest"} 1');
  });

  it('is live and ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ok',
      info: { producer: { status: 'up' }, registry: { status: 'up' } },
      error: {},
      details: { producer: { status: 'up' }, registry: { status: 'up' } },
    });
  });

  it('times every webhook answer in a histogram by status class, and serves the process metrics', async () => {
    const body = notification('notif_timed');
    expect((await post(app, body, sign(body, SECRET))).statusCode).toBe(200);
    expect((await post(app, body)).statusCode).toBe(401);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^# TYPE iks_ingest_webhook_ack_seconds histogram$/m);
    // prom-client orders the labels of a histogram's lines its own way: match them in any order
    expect(metrics).toMatch(
      /^iks_ingest_webhook_ack_seconds_count\{(?=[^}]*status_class="2xx")(?=[^}]*app="ingest")[^}]*\} [1-9]\d*$/m,
    );
    expect(metrics).toMatch(/^iks_ingest_webhook_ack_seconds_count\{(?=[^}]*status_class="4xx")[^}]*\} [1-9]\d*$/m);
    expect(metrics).toMatch(
      /^iks_ingest_webhook_ack_seconds_bucket\{(?=[^}]*le="5")(?=[^}]*status_class="2xx")[^}]*\} [1-9]\d*$/m,
    );
    // GET /metrics and /health are not webhooks: not timed as such
    expect(metrics).not.toMatch(/status_class="[13]xx"/);
    expect(metrics).toMatch(/^iks_process_resident_memory_bytes\{app="ingest"\} \d+/m);
  });
});

describe('ingest when Kafka is down', () => {
  const broker = new PrivateBroker();
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await broker.start();
    const config = testConfig('ingest', {
      CONNECTION_SECRET_KEYS: TEST_KEY_RING,
      INTERCOM_CLIENT_SECRET: SECRET,
      KAFKA_BROKERS: broker.brokers,
      INGEST_ACK_TIMEOUT_MS: '1500',
    });
    app = await createIngestApp(config, false);
    await app.init();
  }, 90_000);
  afterAll(async () => {
    await broker.kill();
    await app.close().catch(() => undefined);
  });

  it("answers 503 (never 200) within Intercom's 5 s while the broker is gone", async () => {
    const ok = notification('notif_before');
    expect((await post(app, ok, sign(ok, SECRET))).statusCode).toBe(200);
    await broker.kill();
    const body = notification('notif_during');
    const started = Date.now();
    const res = await post(app, body, sign(body, SECRET));
    expect(res.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    // a body naming a contact never seen: its key is written before the record, within the same ack timeout
    const naming = notification('notif_new_person').replace(
      '"title":"Ciao — è  ok"',
      '"contacts":{"type":"contact.list","contacts":[{"type":"contact","id":"c-first-seen"}]}',
    );
    const t0 = Date.now();
    expect((await post(app, naming, sign(naming, SECRET))).statusCode).toBe(503);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('is not ready while the broker is gone (issue #14 item 5)', async () => {
    await broker.kill();
    const ready = await waitFor(
      async () => {
        const res = await app.inject({ method: 'GET', url: '/health/ready' });
        return res.statusCode === 503 && res;
      },
      { timeoutMs: 12_000, what: '/health/ready to answer 503 (two failed probes in a row)' },
    );
    // terminus names the failing check: the producer (broker) is down
    expect(ready.json()).toMatchObject({ status: 'error', error: { producer: { status: 'down' } } });
  });
});

describe('ingest with INGEST_METRICS_PORT (issue #14 item 8)', () => {
  let app: NestFastifyApplication;
  let opsPort: number;

  beforeAll(async () => {
    opsPort = await freePort();
    const config = testConfig('ingest', {
      CONNECTION_SECRET_KEYS: TEST_KEY_RING,
      INTERCOM_CLIENT_SECRET: SECRET,
      INGEST_METRICS_PORT: String(opsPort),
    });
    app = await createIngestApp(config, false);
    await app.listen(0, '127.0.0.1');
    await listenOps(app, config);
  });
  afterAll(async () => app.close());

  it('serves /metrics and health on the ops listener only, and webhooks on the webhook port only', async () => {
    const { port } = app.getHttpServer().address() as { port: number };
    const web = `http://127.0.0.1:${port}`;
    const ops = `http://127.0.0.1:${opsPort}`;
    for (const path of ['/metrics', '/health/live', '/health/ready']) {
      expect((await fetch(`${web}${path}`)).status).toBe(404);
      expect((await fetch(`${ops}${path}`)).status).toBe(200);
    }
    const body = notification('notif_ops');
    const send = (base: string) =>
      fetch(`${base}/webhooks/intercom`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-hub-signature': sign(body, SECRET) },
      });
    expect((await send(ops)).status).toBe(404);
    expect((await send(web)).status).toBe(200);
    expect(await (await fetch(`${ops}/metrics`)).text()).toContain(
      'iks_ingest_notifications_accepted_total{topic="conversation.user.created",app="ingest"} 1',
    );
  });
});
