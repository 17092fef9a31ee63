/**
 * Issue #14 (fault tolerance), ingest: size limits that agree with the topic, numbers out of
 * Avro's range, strict signatures, bounded metric labels, request timeouts, readiness behind
 * an authenticating registry.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Config } from '@iks/config';
import { createKafka, topicName } from '@iks/kafka';
import { testConfig } from '../../../test/support/test-config';
import { createIngestApp } from './ingest.app';
import { sign } from './webhook/signature';

const SECRET = 'intercom-client-secret';

/** A signed-shape notification whose body is exactly `size` bytes (padding in the item's title). */
function notificationOfSize(id: string, size: number, itemId = '1001', extra: Record<string, unknown> = {}): string {
  const make = (pad: string) =>
    JSON.stringify({
      type: 'notification_event',
      app_id: 'abc123',
      id,
      topic: 'conversation.user.created',
      created_at: 1700000000,
      delivery_attempts: 1,
      first_sent_at: 1700000001,
      ...extra,
      data: { type: 'notification_event_data', item: { type: 'conversation', id: itemId, title: pad } },
    });
  const base = Buffer.byteLength(make(''));
  return make('x'.repeat(Math.max(0, size - base)));
}

function post(app: NestFastifyApplication, body: string, signature: string | undefined = sign(body, SECRET)) {
  return app.inject({
    method: 'POST',
    url: '/webhooks/intercom',
    payload: body,
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature': signature } : {}) },
  });
}

async function startApp(config: Config): Promise<NestFastifyApplication> {
  const app = await createIngestApp(config, false);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe('ingest limits agree with the raw topic (default settings)', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await startApp(testConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET }));
  });
  afterAll(async () => app.close());

  it('stores a webhook at the body limit (1,048,576 bytes) and one just under it (1,047,981 bytes)', async () => {
    for (const size of [1_048_576, 1_047_981]) {
      const body = notificationOfSize(`notif_near_limit_${size}`, size);
      expect(Buffer.byteLength(body)).toBe(size);
      expect((await post(app, body)).statusCode).toBe(200);
    }
  });

  it('stores 20 webhooks of 1,048,481 bytes arriving together on one partition', async () => {
    const bodies = Array.from({ length: 20 }, (_, i) =>
      notificationOfSize(`notif_big_${i}`, 1_048_481, 'same-conversation'),
    );
    const codes = (await Promise.all(bodies.map((b) => post(app, b)))).map((r) => r.statusCode);
    expect(codes).toEqual(bodies.map(() => 200));
  });

  it('answers 400 naming the field for numbers out of Avro\'s range, never 500 or "Kafka unavailable"', async () => {
    for (const [field, value] of [
      ['created_at', 1e300],
      ['first_sent_at', 1e300],
      ['delivery_attempts', 2 ** 31],
    ] as const) {
      const body = notificationOfSize(`notif_${field}`, 600, '1', { [field]: value });
      const res = await post(app, body);
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toContain(field);
    }
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).not.toContain('kafka_unavailable');
    expect(metrics).toContain('iks_ingest_webhooks_rejected_total{reason="invalid_envelope",app="ingest"} 3');
  });

  it('refuses a signature with trailing garbage', async () => {
    const body = notificationOfSize('notif_garbage', 600);
    expect((await post(app, body, `${sign(body, SECRET)}GARBAGE`)).statusCode).toBe(401);
  });

  it('counts unknown topics under one label', async () => {
    for (let i = 0; i < 3; i++) {
      const body = JSON.stringify({
        type: 'notification_event',
        id: `notif_t${i}`,
        topic: `made.up.${i}"}\n`,
        app_id: 'a',
        created_at: 1,
        data: { item: { type: 'x', id: String(i) } },
      });
      expect((await post(app, body)).statusCode).toBe(200);
    }
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('iks_ingest_notifications_accepted_total{topic="other",app="ingest"} 3');
    expect(metrics).not.toContain('made.up');
  });
});

describe('ingest when the raw topic accepts less than the body limit (a topic created earlier)', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    const config = testConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET });
    const admin = createKafka(config.kafka).admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: topicName('notifications', config.kafka.topicPrefix),
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: '65536' }],
        },
      ],
    });
    await admin.disconnect();
    app = await startApp(config);
  });
  afterAll(async () => app.close());

  it('answers 413 (never 503) for a webhook whose record cannot be stored, and 200 for the others', async () => {
    const big = notificationOfSize('notif_too_big', 100_000);
    const small = notificationOfSize('notif_small', 2_000);
    const [bigRes, smallRes] = await Promise.all([post(app, big), post(app, small)]);
    expect(bigRes.statusCode).toBe(413);
    expect(smallRes.statusCode).toBe(200);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('iks_ingest_webhooks_rejected_total{reason="too_large",app="ingest"} 1');
  });
});

describe('ingest request timeout', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await createIngestApp(
      testConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET, INGEST_REQUEST_TIMEOUT_MS: '1000' }),
      false,
    );
    await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => app.close());

  it('closes a connection whose body trickles in, soon after INGEST_REQUEST_TIMEOUT_MS', async () => {
    const { port } = app.getHttpServer().address() as { port: number };
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      'POST /webhooks/intercom HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"type":',
    );
    const dribble = setInterval(() => socket.write(' '), 200);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    clearInterval(dribble);
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe('ingest readiness behind a schema registry that requires credentials', () => {
  let app: NestFastifyApplication;
  let proxy: Server;
  let registryDown = false;

  beforeAll(async () => {
    // the shared registry, behind basic auth (user "iks", password "registry-pass")
    const target = new URL(process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7');
    const expected = `Basic ${Buffer.from('iks:registry-pass').toString('base64')}`;
    proxy = createServer(async (req, res) => {
      if (registryDown) {
        res.writeHead(503).end();
        return;
      }
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic' }).end();
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const upstream = await fetch(`${target.origin}${req.url}`, {
        method: req.method,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json', accept: 'application/json' },
      });
      res
        .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
        .end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const { port } = proxy.address() as { port: number };
    app = await startApp(
      testConfig('ingest', {
        INTERCOM_CLIENT_SECRET: SECRET,
        SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}${target.pathname}`,
        SCHEMA_REGISTRY_USERNAME: 'iks',
        SCHEMA_REGISTRY_PASSWORD: 'registry-pass',
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    proxy?.close();
  });

  it('is ready (the registry probe sends the configured credentials)', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.json()).toMatchObject({
      status: 'ok',
      details: { producer: { status: 'up' }, registry: { status: 'up' } },
    });
    expect(res.statusCode).toBe(200);
  });

  it('is not ready while the registry is down, naming the registry (the broker still up)', async () => {
    registryDown = true;
    try {
      // red after two failed probes in a row (one slow answer is not an outage): within ~4 s
      const until = Date.now() + 10_000;
      let res = await app.inject({ method: 'GET', url: '/health/ready' });
      while (res.statusCode !== 503 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        res = await app.inject({ method: 'GET', url: '/health/ready' });
      }
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        status: 'error',
        info: { producer: { status: 'up' } },
        error: { registry: { status: 'down' } },
      });
    } finally {
      registryDown = false;
    }
  });
});
