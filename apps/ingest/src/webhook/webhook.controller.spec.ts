import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import { loadConfig } from '@iks/config';
import { NotificationWriter } from '@iks/ingest';
import { IngestMetrics } from '../ingest-metrics';
import { CONFIG } from '../tokens';
import { sign } from './signature';
import { WebhookController } from './webhook.controller';

const SECRET = 'intercom-client-secret';

/** Issue #19: the ping exactly as Intercom documents it (id, delivery_status and self null). */
const INTERCOM_PING =
  '{"type":"notification_event","app_id":"ab12cd34",' +
  '"data":{"type":"notification_event_data","item":{"type":"ping","message":"something something interzen"}},' +
  '"links":{},"id":null,"topic":"ping","delivery_status":null,"delivery_attempts":1,' +
  '"delivered_at":0,"first_sent_at":1449238939,"created_at":1449238939,"self":null}';

/** The controller over Fastify (in memory: app.inject), with a writer that records instead of producing. */
async function controllerApp(written: unknown[], registry: Registry): Promise<NestFastifyApplication> {
  const config = loadConfig({ INTERCOM_CLIENT_SECRET: SECRET, LOG_LEVEL: 'warn' }, 'ingest');
  @Module({
    controllers: [WebhookController],
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: NotificationWriter, useValue: { write: async (record: unknown) => void written.push(record) } },
      { provide: IngestMetrics, useValue: new IngestMetrics(registry) },
    ],
  })
  class ControllerOnly {}
  const app = await NestFactory.create<NestFastifyApplication>(ControllerOnly, new FastifyAdapter(), {
    logger: false,
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.init();
  await fastify.ready();
  return app;
}

describe('WebhookController: Intercom ping (issue #19)', () => {
  const written: unknown[] = [];
  const registry = new Registry();
  let app: NestFastifyApplication;
  const post = (body: string, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/intercom',
      payload: body,
      headers: { 'content-type': 'application/json', ...headers },
    });

  beforeAll(async () => {
    app = await controllerApp(written, registry);
  });
  afterAll(async () => app.close());
  beforeEach(() => {
    written.length = 0;
    registry.resetMetrics();
  });

  it("answers the signed ping of Intercom's docs 200, writes nothing, counts it and logs one line", async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const res = await post(INTERCOM_PING, { 'x-hub-signature': sign(INTERCOM_PING, SECRET) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'pong' });
      expect(written).toEqual([]);
      expect(await registry.getSingleMetricAsString('iks_ingest_pings_total')).toMatch(/^iks_ingest_pings_total 1$/m);
      expect(log.mock.calls.map((c) => String(c[0]))).toEqual([
        'Intercom ping from app_id "ab12cd34" answered 200: the webhook subscription reaches ingest (nothing stored)',
      ]);
    } finally {
      log.mockRestore();
    }
  });

  it.each([
    ['id a string', { id: 'notif_1' }],
    ['delivery_status and self set', { delivery_status: 'pending', self: 'https://api.intercom.io/x' }],
    ['no id, no app_id, no data', { id: undefined, app_id: undefined, data: undefined }],
  ])('answers a ping 200 whatever its fields (%s)', async (_what, patch) => {
    const body = JSON.stringify({ ...JSON.parse(INTERCOM_PING), ...patch });
    expect((await post(body, { 'x-hub-signature': sign(body, SECRET) })).statusCode).toBe(200);
    expect(written).toEqual([]);
  });

  it('refuses an unsigned or badly signed ping with 401, not counted as a ping', async () => {
    expect((await post(INTERCOM_PING)).statusCode).toBe(401);
    expect((await post(INTERCOM_PING, { 'x-hub-signature': sign(INTERCOM_PING, 'another-secret') })).statusCode).toBe(
      401,
    );
    expect(await registry.getSingleMetricAsString('iks_ingest_pings_total')).toMatch(/^iks_ingest_pings_total 0$/m);
    expect(written).toEqual([]);
  });

  it('keeps the envelope rules for notifications: id null on any other topic is 400 "id is missing"', async () => {
    const body = INTERCOM_PING.replace('"topic":"ping"', '"topic":"conversation.user.created"');
    const res = await post(body, { 'x-hub-signature': sign(body, SECRET) });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe('id is missing');
    expect(written).toEqual([]);
  });

  it("answers HEAD (Intercom's check of the endpoint URL) 200 with no body", async () => {
    const res = await app.inject({ method: 'HEAD', url: '/webhooks/intercom' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });
});
