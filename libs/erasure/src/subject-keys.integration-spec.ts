import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { loadConfig, type Config } from '@iks/config';
import { AvroCodec, ensureTopics, KAFKA, PRODUCER } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { freshTopicEnv } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { ErasureModule } from './erasure.module';
import { ErasedSubjectError, SubjectKeys, subjectId, type Subject } from './subject-keys';

const ringKey = () => `r1:${randomBytes(32).toString('base64')}`;

describe('SubjectKeys on the real broker (crypto-shredding, docs/ERASURE.md)', () => {
  jest.setTimeout(120_000);
  let topics: Record<string, string>;
  let ring: string;
  const open: INestApplicationContext[] = [];

  /** One process (a replica) with its own follower of the keys' topic. */
  async function replica(
    withRing = true,
  ): Promise<{ keys: SubjectKeys; app: INestApplicationContext; config: Config }> {
    const config = loadConfig(
      {
        KAFKA_BROKERS: process.env.KAFKA_BROKERS,
        SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
        LOG_LEVEL: 'error',
        CONNECTIONS_DEFAULT: 'off',
        ...topics,
        ...(withRing ? { CONNECTION_SECRET_KEYS: ring } : {}),
      },
      'cli',
    );
    const app = await createContext(config, 'cli', ErasureModule);
    open.push(app);
    const admin = app.get<Kafka>(KAFKA).admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka).finally(() => admin.disconnect());
    await app.get(AvroCodec).registerAll();
    await app.get<Producer>(PRODUCER).connect();
    const keys = app.get(SubjectKeys);
    await keys.start();
    return { keys, app, config };
  }

  beforeEach(() => {
    topics = freshTopicEnv('erase');
    ring = ringKey();
  });
  afterEach(async () => {
    for (const app of open.splice(0)) {
      await app.get(SubjectKeys).stop();
      await app.get<Producer>(PRODUCER).disconnect();
      await app.close();
    }
  });

  const ann: Subject = { connectionId: 'alpha', contactId: 'c-ann' };
  const bob: Subject = { connectionId: 'alpha', contactId: 'c-bob' };
  const email = (who: string) => Buffer.from(`${who}@example.com`);

  it('a field sealed by one replica opens on another; after erase it opens nowhere, a fresh reader included', async () => {
    const a = await replica();
    const b = await replica();
    const sealedAnn = await a.keys.seal(ann, email('ann'));
    const sealedBob = await b.keys.seal(bob, email('bob'));
    expect(sealedAnn.includes(email('ann'))).toBe(false);
    await waitFor(() => b.keys.keyCount(ann) === 1 && a.keys.keyCount(bob) === 1, {
      what: 'each replica follows the other',
    });
    expect(b.keys.unseal(ann, sealedAnn).toString()).toBe('ann@example.com');
    expect(a.keys.unseal(bob, sealedBob).toString()).toBe('bob@example.com');
    // the subject is part of the additional data: a field of Ann does not open as Bob's
    expect(() => a.keys.unseal(bob, sealedAnn)).toThrow();

    expect(await b.keys.erase(ann)).toBe(1);
    await waitFor(() => a.keys.isErased(ann), { what: 'the marker reaches replica a' });
    expect(() => a.keys.unseal(ann, sealedAnn)).toThrow(ErasedSubjectError);
    expect(() => b.keys.unseal(ann, sealedAnn)).toThrow(ErasedSubjectError);
    // a later write for her is unreadable from the start (a throw-away key, nothing stored)
    const late = await a.keys.seal(ann, email('ann'));
    expect(() => a.keys.unseal(ann, late)).toThrow(ErasedSubjectError);
    expect(a.keys.keyCount(ann)).toBe(0);
    // Bob is untouched
    expect(a.keys.unseal(bob, sealedBob).toString()).toBe('bob@example.com');

    const fresh = await replica();
    expect([fresh.keys.isErased(ann), fresh.keys.keyCount(ann), fresh.keys.keyCount(bob)]).toEqual([true, 0, 1]);
    expect(() => fresh.keys.unseal(ann, sealedAnn)).toThrow(ErasedSubjectError);
    expect(fresh.keys.unseal(bob, sealedBob).toString()).toBe('bob@example.com');
  });

  it('two replicas that make a key for one person at once both stay valid, and erase destroys both', async () => {
    const a = await replica();
    const b = await replica();
    const [fromA, fromB] = await Promise.all([a.keys.seal(ann, email('ann-a')), b.keys.seal(ann, email('ann-b'))]);
    await waitFor(() => a.keys.keyCount(ann) === 2 && b.keys.keyCount(ann) === 2, { what: 'both keys on both' });
    expect([a.keys.unseal(ann, fromB).toString(), b.keys.unseal(ann, fromA).toString()]).toEqual([
      'ann-b@example.com',
      'ann-a@example.com',
    ]);
    expect(await a.keys.erase(ann)).toBe(2);
    await waitFor(() => b.keys.isErased(ann), { what: 'the marker' });
    expect(() => b.keys.unseal(ann, fromA)).toThrow(ErasedSubjectError);
    expect(() => b.keys.unseal(ann, fromB)).toThrow(ErasedSubjectError);
  });

  it('a key written after the marker by a writer that had not seen it is destroyed by the followers', async () => {
    const a = await replica();
    const unaware = await replica();
    await unaware.keys.stopFollowing(); // cut off from the topic: it will not hear of the erasure
    await a.keys.seal(ann, email('ann'));
    await a.keys.erase(ann);
    await unaware.keys.seal(ann, email('ann-again')); // it knows no key of hers and no marker: it makes one
    const name = `${a.config.kafka.topicPrefix}pipeline.subject-keys.v1`;
    const liveKeysOfAnn = async () =>
      [...(await lastValues(a.app.get<Kafka>(KAFKA), name))].filter(
        ([k, v]) => k.startsWith(`${subjectId(ann)}#`) && k !== `${subjectId(ann)}#erased` && v !== null,
      ).length;
    // replica a's follower sees the key after the marker and tombstones it
    await waitFor(async () => (await liveKeysOfAnn()) === 0, {
      what: 'every key of Ann tombstoned',
      timeoutMs: 60_000,
    });
    const fresh = await replica();
    expect([fresh.keys.isErased(ann), fresh.keys.keyCount(ann)]).toEqual([true, 0]);
  });

  it("without a key ring (a newcomer's npm start) the keys are stored unsealed, open on another replica and erase still shreds", async () => {
    const a = await replica(false);
    const b = await replica(false);
    const sealed = await a.keys.seal(ann, email('ann'));
    // b has not read the key yet: open() waits for its follower instead of calling her erased
    expect((await b.keys.open(ann, sealed)).toString()).toBe('ann@example.com');
    const name = `${a.config.kafka.topicPrefix}pipeline.subject-keys.v1`;
    const codec = a.app.get(AvroCodec);
    const stored = [...(await lastValues(a.app.get<Kafka>(KAFKA), name))].filter(([, v]) => v !== null);
    expect(stored).toHaveLength(1);
    const record = await codec.decodeAs('subjectKeys', stored[0][1]);
    expect([record.sealedKey, record.plainKey?.length]).toEqual([null, 32]);
    await a.keys.erase(ann);
    await waitFor(() => b.keys.isErased(ann), { what: 'the marker reaches replica b' });
    await expect(b.keys.open(ann, sealed)).rejects.toBeInstanceOf(ErasedSubjectError);
    const fresh = await replica(false);
    await expect(fresh.keys.open(ann, sealed)).rejects.toBeInstanceOf(ErasedSubjectError);
  });

  it('the keys topic is created compacted, rolling and cleaning within minutes', async () => {
    const a = await replica();
    const admin: Admin = a.app.get<Kafka>(KAFKA).admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: `${a.config.kafka.topicPrefix}pipeline.subject-keys.v1` }],
      });
      const cfg = Object.fromEntries(resources[0].configEntries.map((e) => [e.configName, e.configValue]));
      expect(cfg).toMatchObject({
        'cleanup.policy': 'compact',
        'min.cleanable.dirty.ratio': '0.01',
        'segment.ms': '60000',
        'max.compaction.lag.ms': '120000',
      });
    } finally {
      await admin.disconnect();
    }
  });
});

/** The last value of each key of a topic (null: a tombstone), read from the beginning. */
async function lastValues(kafka: Kafka, name: string): Promise<Map<string, Buffer | null>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(name);
  await admin.disconnect();
  let total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const out = new Map<string, Buffer | null>();
  if (total === 0) return out;
  const consumer = kafka.consumer({ groupId: `scan-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topic: name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.set(message.key!.toString(), message.value);
      total--;
    },
  });
  await waitFor(() => total <= 0, { what: `all of ${name}` });
  await consumer.disconnect();
  return out;
}
