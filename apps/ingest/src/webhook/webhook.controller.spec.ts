import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import { loadConfig } from '@iks/config';
import {
  CONNECTIONS,
  defaultConnectionFromConfig,
  StaticConnections,
  type Connection,
  type ConnectionDirectory,
} from '@iks/connections';
import type { RawNotification } from '@iks/domain';
import { NotificationWriter } from '@iks/ingest';
import { testConnection } from '../../../../test/support/connections';
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

interface Written {
  readonly topic: 'raw' | 'unclaimed';
  readonly record: RawNotification;
  readonly key: string;
}

/**
 * The controller over Fastify (in memory: app.inject), with a writer that records instead of
 * producing; the default connection from `env` (INTERCOM_CLIENT_SECRET=SECRET) and `others`.
 */
async function controllerApp(
  written: unknown[],
  registry: Registry,
  env: Record<string, string> = {},
  others: Connection[] = [],
): Promise<NestFastifyApplication> {
  const config = loadConfig({ INTERCOM_CLIENT_SECRET: SECRET, LOG_LEVEL: 'warn', ...env }, 'ingest');
  const connections: ConnectionDirectory = new StaticConnections([defaultConnectionFromConfig(config), ...others]);
  const writer = {
    write: async (record: RawNotification, key: string) => void written.push({ topic: 'raw', record, key }),
    writeUnclaimed: async (record: RawNotification, key: string) =>
      void written.push({ topic: 'unclaimed', record, key }),
  };
  @Module({
    controllers: [WebhookController],
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: CONNECTIONS, useValue: connections },
      { provide: NotificationWriter, useValue: writer },
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

describe('WebhookController: routing by workspace (docs/CONNECTIONS.md)', () => {
  const written: Written[] = [];
  const registry = new Registry();
  let app: NestFastifyApplication;
  const notification = (appId: string, id: string, itemId = '1001') =>
    JSON.stringify({
      type: 'notification_event',
      id,
      topic: 'conversation.user.created',
      app_id: appId,
      created_at: 1700000000,
      delivery_attempts: 1,
      data: { type: 'notification_event_data', item: { type: 'conversation', id: itemId } },
    });
  const post = (body: string, secret?: string) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/intercom',
      payload: body,
      headers: { 'content-type': 'application/json', ...(secret ? { 'x-hub-signature': sign(body, secret) } : {}) },
    });
  const metric = async (name: string) => (await registry.getSingleMetricAsString(name)).split('\n').slice(2).join('\n');

  beforeAll(async () => {
    app = await controllerApp(written, registry, { INTERCOM_APP_ID: 'ws-default' }, [
      testConnection('acme', 'ws-acme', { clientSecret: 'public-app' }),
      testConnection('globex', 'ws-globex', { clientSecret: 'public-app' }),
      testConnection('initech', 'ws-initech', { clientSecret: 'initech-private' }),
    ]);
  });
  afterAll(async () => app.close());
  beforeEach(() => {
    written.length = 0;
    registry.resetMetrics();
  });

  it("claimed: the record carries its connection and its key the connection prefix; the default keeps today's", async () => {
    expect((await post(notification('ws-acme', 'n1'), 'public-app')).json()).toEqual({ status: 'accepted', id: 'n1' });
    expect((await post(notification('ws-globex', 'n2'), 'public-app')).statusCode).toBe(200);
    expect((await post(notification('ws-initech', 'n3'), 'initech-private')).statusCode).toBe(200);
    expect((await post(notification('ws-default', 'n4'), SECRET)).statusCode).toBe(200);
    expect(written.map((w) => [w.topic, w.key, w.record.connection_id, w.record.notification_id])).toEqual([
      ['raw', 'acme/conversation:1001', 'acme', 'n1'],
      ['raw', 'globex/conversation:1001', 'globex', 'n2'],
      ['raw', 'initech/conversation:1001', 'initech', 'n3'],
      ['raw', 'conversation:1001', undefined, 'n4'],
    ]);
    expect('connection_id' in written[3].record).toBe(false);
    expect(await metric('iks_ingest_unclaimed_total')).toBe('iks_ingest_unclaimed_total 0');
  });

  it('signed but unclaimed: 200, written to the unclaimed topic keyed by app_id, counted, logged once per workspace', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const body = notification('ws-new', 'n5');
      const res = await post(body, 'public-app');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'unclaimed', id: 'n5' });
      expect((await post(notification('ws-new', 'n6'), 'public-app')).statusCode).toBe(200);
      expect(written.map((w) => [w.topic, w.key, w.record.notification_id])).toEqual([
        ['unclaimed', 'ws-new', 'n5'],
        ['unclaimed', 'ws-new', 'n6'],
      ]);
      expect(written[0].record.body).toBe(body);
      expect(written[0].record.connection_id).toBeUndefined();
      expect(await metric('iks_ingest_unclaimed_total')).toBe('iks_ingest_unclaimed_total 2');
      expect(warn.mock.calls.filter((c) => String(c[0]).includes('"ws-new"'))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('unsigned, or signed by no secret the workspace or the deployment knows: 401, nothing written', async () => {
    expect((await post(notification('ws-acme', 'n7'))).statusCode).toBe(401);
    expect((await post(notification('ws-acme', 'n8'), 'initech-private')).statusCode).toBe(401);
    expect((await post(notification('ws-new', 'n9'), 'unknown-secret')).statusCode).toBe(401);
    expect((await post('{"not json', 'unknown-secret')).statusCode).toBe(401); // unsigned bad bodies stay 401
    expect((await post('{"not json', 'public-app')).statusCode).toBe(400);
    expect(written).toEqual([]);
    expect(await metric('iks_ingest_webhooks_rejected_total')).toContain(
      'iks_ingest_webhooks_rejected_total{reason="bad_signature"} 3',
    );
  });

  it("a workspace's ping is answered with its own connection's secret; a ping of an unclaimed workspace too", async () => {
    const ping = (appId: string) => INTERCOM_PING.replace('"app_id":"ab12cd34"', `"app_id":"${appId}"`);
    expect((await post(ping('ws-initech'), 'initech-private')).json()).toEqual({ status: 'pong' });
    expect((await post(ping('ws-initech'), SECRET)).statusCode).toBe(401);
    expect((await post(ping('ws-new'), 'public-app')).json()).toEqual({ status: 'pong' });
    expect(written).toEqual([]);
  });
});
