import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { loadConfig } from '@iks/config';
import { AvroCodec, ensureTopics, KAFKA, PRODUCER } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { freshTopicEnv } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { ErasureModule } from './erasure.module';
import { openShared, sealShared } from './shared-seal';
import { ErasedSubjectError, SubjectKeyMissingError, SubjectKeys, type Subject } from './subject-keys';

/**
 * SubjectKeys.open and openShared across processes on the real broker: ingest seals a body for a
 * person it sees first (its key written a moment before), the transformer opens it before its own
 * follower has read that key (it reads the keys' topic to its end first); a key the topic does not
 * hold, without an erasure marker, is not taken for an erasure.
 */
describe('opening what another process sealed a moment ago (docs/ERASURE.md, raw bodies)', () => {
  jest.setTimeout(120_000);
  const topics = freshTopicEnv('eopen');
  const ring = `r1:${randomBytes(32).toString('base64')}`;
  const open: INestApplicationContext[] = [];

  async function replica(): Promise<SubjectKeys> {
    const config = loadConfig(
      {
        KAFKA_BROKERS: process.env.KAFKA_BROKERS,
        SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
        LOG_LEVEL: 'error',
        CONNECTIONS_DEFAULT: 'off',
        ...topics,
        CONNECTION_SECRET_KEYS: ring,
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
    return keys;
  }

  afterAll(async () => {
    for (const app of open.splice(0)) {
      await app.get(SubjectKeys).stop();
      await app.get<Producer>(PRODUCER).disconnect();
      await app.close();
    }
  });

  it("opens a body sealed for people seen a moment ago, before the reader's follower had their keys", async () => {
    const ingest = await replica();
    const transformer = await replica();
    let raced = 0;
    for (let i = 0; i < 5; i++) {
      const people: Subject[] = [
        { connectionId: 'alpha', contactId: `c-new-${i}` },
        { connectionId: 'alpha', contactId: `c-other-${i}` },
      ];
      const body = Buffer.from(`{"email":"person-${i}@example.com"}`);
      const sealed = await sealShared(ingest, people, body);
      if (transformer.keyCount(people[0]) === 0) raced++;
      expect((await openShared(transformer, sealed)).equals(body)).toBe(true);
    }
    // the keys were not read yet when the opening began, at least once: the wait was exercised
    expect(raced).toBeGreaterThan(0);
  });

  it('a key the topic does not hold, of a subject with no marker, is a missing key; after the marker, erased', async () => {
    const ingest = await replica();
    const transformer = await replica();
    const ann: Subject = { connectionId: 'alpha', contactId: 'c-ann' };
    const field = await ingest.seal(ann, Buffer.from('ann@example.com'));
    // the same field under a key id nobody wrote (same length: 16 hex digits)
    const forged = Buffer.from(field);
    forged.write('ffffffffffffffff', 2, 'latin1');
    await expect(transformer.open(ann, forged)).rejects.toThrow(SubjectKeyMissingError);
    expect((await transformer.open(ann, field)).toString()).toBe('ann@example.com');
    await ingest.erase(ann);
    await waitFor(() => transformer.isErased(ann), { what: 'the marker reaches the reader' });
    await expect(transformer.open(ann, field)).rejects.toThrow(ErasedSubjectError);
    await expect(transformer.open(ann, forged)).rejects.toThrow(ErasedSubjectError);
  });
});
