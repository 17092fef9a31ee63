import { randomBytes } from 'node:crypto';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import type { Registry } from 'prom-client';
import type { Kafka, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import { AvroCodec, followTopic, KAFKA, PRODUCER, topic } from '@iks/kafka';
import { createContext, METRICS_REGISTRY } from '@iks/ops';
import { freshTopicEnv } from '../../../test/support/test-config';
import { loadConfig } from '@iks/config';
import { connection } from './__tests__/fixtures';
import { sealConnection } from './connection-record';
import { ConnectionStore } from './connection-store';
import { CONNECTIONS } from './connections.tokens';
import { ConnectionsModule, CONNECTION_SEALER } from './connections.module';
import type { KafkaConnectionDirectory } from './kafka-connection-directory';
import type { ConnectionSealer } from './sealing';

const b64 = () => randomBytes(32).toString('base64');

/** One process's view: its config (the keys it lists) on the shared topics of this test. */
async function processWith(topics: Record<string, string>, keys: string, extra: Record<string, string> = {}) {
  const config: Config = loadConfig(
    {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
      LOG_LEVEL: 'error',
      ...topics,
      CONNECTION_SECRET_KEYS: keys,
      ...extra,
    },
    'cli',
  );
  const app: INestApplicationContext = await createContext(config, 'cli', ConnectionsModule);
  return {
    config,
    app,
    directory: app.get<KafkaConnectionDirectory>(CONNECTIONS),
    store: app.get(ConnectionStore),
    sealer: app.get<ConnectionSealer>(CONNECTION_SEALER),
    async close() {
      await app.get<Producer>(PRODUCER).disconnect();
      await app.close();
    },
  };
}

type Proc = Awaited<ReturnType<typeof processWith>>;

describe('connections on the real broker: ConnectionStore writes, a second directory reads', () => {
  const k1 = `k1:${b64()}`;
  const k2 = `k2:${b64()}`;
  let topics: Record<string, string>;
  const open: Proc[] = [];
  const start = async (keys: string, extra: Record<string, string> = {}) => {
    const p = await processWith(topics, keys, extra);
    open.push(p);
    return p;
  };

  beforeEach(() => {
    topics = freshTopicEnv('conn');
  });

  afterEach(async () => {
    for (const p of open.splice(0)) await p.close();
  });

  it('what one process adds, pauses and removes, another reads from the beginning, secrets unsealed; the default connection is merged in', async () => {
    const writer = await start(k1, { INTERCOM_CLIENT_SECRET: 'env-client-secret-0001' });
    expect(writer.directory.all().map((c) => c.id)).toEqual(['default']);
    const { revision: _r, updatedAt: _u, fromEnvironment: _f, ...acme } = connection('acme');
    const written = await writer.store.put(acme);
    expect(written.revision).toBe(1);
    expect(writer.directory.get('acme')?.revision).toBe(1); // read back before put resolves
    await writer.store.put({ ...connection('globex'), status: undefined });
    expect((await writer.store.pause('acme')).revision).toBe(2);
    expect((await writer.store.remove('globex')).status).toBe('removed');
    await expect(writer.store.resume('globex')).rejects.toThrow(/was removed: add it again/);
    await expect(writer.store.pause('nobody')).rejects.toThrow(/no connection "nobody"/);
    await expect(writer.store.put({ ...connection('copy'), intercom: connection('acme').intercom })).rejects.toThrow(
      /workspace app-acme is already claimed by connection "acme"/,
    );
    await expect(writer.store.put(connection('default'))).rejects.toThrow(/environment's connection/);

    const reader = await start(k1, { CONNECTIONS_DEFAULT: 'off' });
    await reader.directory.ready();
    const a = reader.directory.get('acme')!;
    expect(a).toMatchObject({ status: 'paused', revision: 2, name: 'Brand acme', fromEnvironment: false });
    expect(a.intercom.accessToken?.reveal()).toBe('access-token-acme-0123456789');
    expect(a.intercom.clientSecret?.reveal()).toBe('client-secret-acme-0123456789');
    expect(a.klaviyo.privateKey?.reveal()).toBe('pk_private-key-acme-0123456789');
    expect(a.settings).toEqual({
      metricNames: { ticketResolved: 'Resolved!' },
      defaultPhoneRegion: 'GB',
      deleteOnArchive: true,
    });
    expect(reader.directory.get('globex')?.status).toBe('removed');
    expect(reader.directory.byAppId('app-globex')).toBeUndefined();
    expect(reader.directory.all().map((c) => c.id)).toEqual(['acme']);
    expect(reader.directory.get('default')).toBeUndefined();
    // a paused connection still claims its workspace; a removed one does not
    expect(writer.directory.clientSecrets().map((s) => s.reveal())).toEqual([
      'env-client-secret-0001',
      'client-secret-acme-0123456789',
    ]);
    expect(reader.directory.keyIdsOf('acme')).toEqual(['k1']);

    // a change made now reaches the running reader
    const changed = new Promise((r) =>
      reader.directory.onChange((c) => c.id === 'acme' && c.status === 'active' && r(c)),
    );
    await writer.store.resume('acme');
    await changed;
    expect(reader.directory.get('acme')?.revision).toBe(3);
  });

  it('an older revision later in the topic never replaces a newer one; a bad record is counted and reported, not fatal', async () => {
    const writer = await start(k1);
    await writer.store.put(connection('init')); // topic, schemas, producer ready
    const codec = writer.app.get(AvroCodec);
    const producer = writer.app.get<Producer>(PRODUCER);
    const t = topic('connections', writer.config.kafka.topicPrefix);
    const send = async (key: string, value: Buffer | null) =>
      producer.send({ topic: t.name, acks: -1, messages: [{ key, value }] });
    const encode = (c: ReturnType<typeof connection>, sealer = writer.sealer) =>
      codec.encodeAs(t, sealConnection(c, sealer));

    await send('acme', await encode(connection('acme', { revision: 5, name: 'five' })));
    await send('acme', await encode(connection('acme', { revision: 3, name: 'three' })));
    await send('acme', await encode(connection('acme', { revision: 4, name: 'four' })));
    // sealed under a key no process lists, and bytes that are no Avro record
    const { ConnectionSealer } = await import('./sealing');
    const foreign = new ConnectionSealer([{ kid: 'lost', key: { reveal: () => b64() } as never }]);
    await send('orphan', await encode(connection('orphan'), foreign));
    await send('junk', Buffer.from('not avro at all'));
    await send('gone', await encode(connection('gone')));
    await send('gone', null);

    const warn = jest.spyOn(Logger.prototype, 'warn');
    const reader = await start(k1);
    const warnings = warn.mock.calls.map((c) => String(c[0]));
    warn.mockRestore();
    // (the writer's own directory, following live, may log them as well)
    for (const id of ['orphan', 'junk'])
      expect(warnings.some((w) => w.startsWith(`connection "${id}" `) && w.includes(' is unusable: '))).toBe(true);
    expect(warnings.join('\n')).not.toContain('0123456789');
    const metrics = await reader.app.get<Registry>(METRICS_REGISTRY).metrics();
    expect(metrics).toMatch(/iks_connections_records_total\{outcome="stale"[^}]*\} 2/);
    expect(metrics).toMatch(/iks_connections_records_total\{outcome="unusable"[^}]*\} 2/);
    expect(metrics).toMatch(/iks_connections\{state="unusable"[^}]*\} 2/);
    expect(metrics).toMatch(/iks_connections\{state="in_use"[^}]*\} 3/);
    expect(reader.directory.get('acme')).toMatchObject({ revision: 5, name: 'five' });
    expect(reader.directory.stats).toMatchObject({ stale: 2, unusable: 2, tombstones: 1 });
    expect(reader.directory.unusable()).toEqual([
      { id: 'junk', revision: null, reason: expect.stringContaining('Avro') },
      { id: 'orphan', revision: 1, reason: expect.stringContaining('key id "lost"') },
    ]);
    expect(JSON.stringify(reader.directory.unusable())).not.toContain('0123456789');
    expect(reader.directory.get('gone')).toBeUndefined();
    expect(
      reader.directory
        .all()
        .map((c) => c.id)
        .sort(),
    ).toEqual(['acme', 'default', 'init']);
    // the writer continues after the highest revision read
    expect((await reader.store.put(connection('acme'))).revision).toBe(6);
  });

  it('rotation: a reader listing the new key first and the old one second reads everything; reseal writes under the first key; then the old key can go', async () => {
    const old = await start(k1);
    await old.store.put(connection('acme'));
    await old.store.put(connection('globex'));
    await old.store.remove('globex');

    const rotated = await start(`${k2},${k1}`);
    expect(rotated.directory.get('acme')?.klaviyo.privateKey?.reveal()).toBe('pk_private-key-acme-0123456789');
    expect(rotated.directory.keyIdsOf('acme')).toEqual(['k1']);
    const first = await rotated.store.reseal();
    expect([...first.resealed].sort()).toEqual(['acme', 'globex']);
    expect(rotated.directory.keyIdsOf('acme')).toEqual(['k2']);
    expect(rotated.directory.get('acme')?.revision).toBe(2);
    expect(await rotated.store.reseal()).toEqual({ resealed: [], unchanged: ['acme', 'globex'], unusable: [] });

    const newOnly = await start(k2);
    expect(newOnly.directory.unusable()).toEqual([]);
    expect(newOnly.directory.get('acme')?.intercom.accessToken?.reveal()).toBe('access-token-acme-0123456789');
    expect(newOnly.directory.allWithRemoved().find((c) => c.id === 'globex')?.status).toBe('removed');
  });

  it('the bytes of the topic hold no secret in clear (values and keys)', async () => {
    const writer = await start(k1);
    const secrets: string[] = [];
    for (const id of ['acme', 'globex', 'initech']) {
      const c = connection(id);
      secrets.push(c.intercom.clientSecret!.reveal(), c.intercom.accessToken!.reveal(), c.klaviyo.privateKey!.reveal());
      await writer.store.put(c);
      await writer.store.pause(id);
    }
    await writer.store.reseal();
    const kafka = writer.app.get<Kafka>(KAFKA);
    const chunks: Buffer[] = [];
    const scan = await followTopic(kafka, topic('connections', writer.config.kafka.topicPrefix).name, 'scan', (m) => {
      if (m.key) chunks.push(m.key);
      if (m.value) chunks.push(m.value);
      for (const h of Object.values(m.headers ?? {})) if (Buffer.isBuffer(h)) chunks.push(h);
    });
    await scan.stop();
    expect(chunks.length).toBeGreaterThanOrEqual(12);
    const all = Buffer.concat(chunks);
    for (const s of secrets) {
      for (const form of [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')])
        expect(all.includes(Buffer.from(form))).toBe(false);
      expect(all.includes(Buffer.from(s, 'utf16le'))).toBe(false);
    }
    // the scan can find what is there: the names and workspace ids are in clear
    expect(all.includes(Buffer.from('app-globex'))).toBe(true);
  });
});
