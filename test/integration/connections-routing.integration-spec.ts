import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { defaultConnectionFromConfig, StaticConnections } from '@iks/connections';
import { sharedSubjects } from '@iks/erasure';
import { AvroCodec, createKafka, notificationFromAvro } from '@iks/kafka';
import { createIngestApp } from '../../apps/ingest/src/ingest.app';
import { sign } from '../../apps/ingest/src/webhook/signature';
import { runConnectionsClaim } from '../../apps/cli/src/commands/connections-claim.command';
import { testConnection } from '../support/connections';
import { BodyOpener, TopicTap, topicOf } from '../support/raw-topic';
import { freshConfig, TEST_KEY_RING } from '../support/test-config';
import { waitFor } from '../support/wait-for';

const ENV_SECRET = 'env-client-secret';
const PUBLIC_APP = 'public-app-client-secret'; // one Intercom app installed in several workspaces
const PRIVATE_APP = 'initech-private-app-secret'; // a private app of one workspace

function notification(appId: string, id: string, conversationId = '1001', contactId?: string): string {
  return JSON.stringify({
    type: 'notification_event',
    id,
    topic: 'conversation.user.created',
    app_id: appId,
    created_at: 1_764_000_000,
    delivery_attempts: 1,
    data: {
      type: 'notification_event_data',
      item: {
        type: 'conversation',
        id: conversationId,
        title: 'hé',
        ...(contactId ? { contacts: { type: 'contact.list', contacts: [{ type: 'contact', id: contactId }] } } : {}),
      },
    },
  });
}

/**
 * Issue #22 "Routing by workspace" through the real ingest app and broker: two workspaces'
 * webhooks tagged with their connections (and the default connection's as before), a workspace
 * no connection claims kept in the unclaimed topic, then copied into the raw topic by
 * `connections claim` once its connection exists.
 */
describe('ingest routes webhooks by workspace; connections claim copies the unclaimed ones', () => {
  const config = freshConfig('ingest', {
    INTERCOM_CLIENT_SECRET: ENV_SECRET,
    INTERCOM_APP_ID: 'ws-default',
    CONNECTION_SECRET_KEYS: TEST_KEY_RING,
  });
  const cliConfig = freshConfig('cli', {
    TOPIC_PREFIX: config.kafka.topicPrefix,
    CONNECTION_SECRET_KEYS: TEST_KEY_RING,
  });
  const connections = new StaticConnections([
    defaultConnectionFromConfig(config),
    testConnection('acme', 'ws-acme', { clientSecret: PUBLIC_APP }),
    testConnection('initech', 'ws-initech', { clientSecret: PRIVATE_APP }),
  ]);
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  let opener: BodyOpener;
  let tap: TopicTap;
  const RAW = topicOf(config, 'notifications');
  const UNCLAIMED = topicOf(config, 'notificationsUnclaimed');
  let app: NestFastifyApplication;

  const post = (body: string, secret?: string) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/intercom',
      payload: body,
      headers: { 'content-type': 'application/json', ...(secret ? { 'x-hub-signature': sign(body, secret) } : {}) },
    });
  const seen = (topic: string) => tap.of(topic).map((r) => ({ key: r.key, ...notificationFromAvro(r.value) }));

  beforeAll(async () => {
    app = await createIngestApp(config, false, { connections });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    await codec.registerAll();
    // sealed bodies (docs/ERASURE.md) opened as the transformer does
    opener = await BodyOpener.start(cliConfig);
    tap = new TopicTap(kafka, codec, `${config.kafka.topicPrefix}tap`, opener);
    await tap.start([RAW, UNCLAIMED]);
  });
  afterAll(async () => {
    await tap?.stop();
    await opener?.stop();
    await app?.close();
  });

  it('tags each workspace with its connection, keeps the unclaimed, refuses the unsigned; claim brings them into the raw topic once', async () => {
    expect((await post(notification('ws-acme', 'n-acme'), PUBLIC_APP)).statusCode).toBe(200);
    expect((await post(notification('ws-initech', 'n-initech'), PRIVATE_APP)).statusCode).toBe(200);
    expect((await post(notification('ws-default', 'n-default'), ENV_SECRET)).statusCode).toBe(200);
    const kept1 = notification('ws-globex', 'n-globex-1');
    const kept2 = notification('ws-globex', 'n-globex-2', '2002', 'c-globex-ann'); // names a contact
    expect((await post(kept1, PUBLIC_APP)).json()).toEqual({ status: 'unclaimed', id: 'n-globex-1' });
    expect((await post(kept2, PUBLIC_APP)).statusCode).toBe(200);
    expect((await post(notification('ws-acme', 'n-forged'), PRIVATE_APP)).statusCode).toBe(401);
    expect((await post(notification('ws-acme', 'n-unsigned'))).statusCode).toBe(401);

    await waitFor(() => seen(RAW).length >= 3 && seen(UNCLAIMED).length >= 2, { what: 'the routed webhooks' });
    const raw = seen(RAW).map((r) => [r.key, r.connection_id ?? 'default', r.notification_id]);
    expect(raw.sort()).toEqual(
      [
        ['acme/conversation:1001', 'acme', 'n-acme'],
        ['conversation:1001', 'default', 'n-default'],
        ['initech/conversation:1001', 'initech', 'n-initech'],
      ].sort(),
    );
    expect(seen(UNCLAIMED).map((r) => [r.key, r.app_id, r.notification_id])).toEqual([
      ['ws-globex', 'ws-globex', 'n-globex-1'],
      ['ws-globex', 'ws-globex', 'n-globex-2'],
    ]);

    // the workspace's connection is added: claim copies what was kept, as the connection
    connections.put(testConnection('globex', 'ws-globex', { clientSecret: PUBLIC_APP }));
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) };
    const code = await runConnectionsClaim({ connectionId: 'globex', fromBeginning: false, yes: true }, cliConfig, io, {
      connections,
    });
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out.join('\n')).toMatch(
      /copied 2 webhook\(s\) of workspace ws-globex to .*intercom\.notifications\.v1 as connection globex/,
    );
    await waitFor(() => seen(RAW).length >= 5, { what: 'the claimed webhooks in the raw topic' });
    const claimed = seen(RAW).filter((r) => r.connection_id === 'globex');
    expect(claimed.map((r) => [r.key, r.notification_id, r.app_id])).toEqual([
      ['globex/conversation:1001', 'n-globex-1', 'ws-globex'],
      ['globex/conversation:2002', 'n-globex-2', 'ws-globex'],
    ]);
    expect(claimed.map((r) => r.body)).toEqual([kept1, kept2]); // the bytes Intercom signed
    // kept sealed for its contact under the workspace while no connection claimed it (a body naming
    // no one stays clear); copied sealed for its contact as globex's
    expect(seen(UNCLAIMED).map((r) => r.body_sealed && sharedSubjects(r.body_sealed))).toEqual([
      undefined,
      [{ connectionId: 'unclaimed:ws-globex', contactId: 'c-globex-ann' }],
    ]);
    expect(seen(UNCLAIMED).map((r) => r.body)).toEqual([kept1, kept2]); // opened with the keys
    expect(claimed[0].body_sealed).toBeUndefined();
    expect(sharedSubjects(claimed[1].body_sealed!)).toEqual([{ connectionId: 'globex', contactId: 'c-globex-ann' }]);

    // a second claim has nothing new to copy; the workspace's next webhook goes straight to its connection
    out.length = 0;
    expect(
      await runConnectionsClaim({ connectionId: 'globex', fromBeginning: false, yes: true }, cliConfig, io, {
        connections,
      }),
    ).toBe(0);
    expect(out.join('\n')).toContain('nothing to copy for connection globex; copied 0');
    expect((await post(notification('ws-globex', 'n-globex-3', '3003'), PUBLIC_APP)).json()).toEqual({
      status: 'accepted',
      id: 'n-globex-3',
    });
    await waitFor(() => seen(RAW).length >= 6, { what: 'the claimed workspace next webhook' });
    expect(
      seen(RAW)
        .filter((r) => r.connection_id === 'globex')
        .map((r) => r.key),
    ).toEqual(['globex/conversation:1001', 'globex/conversation:2002', 'globex/conversation:3003']);
    expect(seen(UNCLAIMED)).toHaveLength(2);
  });
});
