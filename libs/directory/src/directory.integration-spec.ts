import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { ContactSnapshot } from '@iks/domain';
import { AvroCodec, createKafka, prepareStage, contactToAvro, topicName } from '@iks/kafka';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import { Directory } from './directory';
import { followContacts, type ContactsFollower } from './follow-contacts';
import { NO_INTERCOM_API } from './intercom-source';
import { LmdbContactStore } from './lmdb-contact-store';

const contactJson = (id: string, email: string) =>
  JSON.stringify({ type: 'contact', id, role: 'user', email, phone: null, name: `Person ${id}` });
const live = (id: string, email = `${id}@example.com`): ContactSnapshot => ({
  id,
  deleted: false,
  contact_json: contactJson(id, email),
  recorded_at: Date.now(),
});
const gone = (id: string): ContactSnapshot => ({ id, deleted: true, contact_json: null, recorded_at: Date.now() });

describe('directory: a local store that survives restarts and rebuilds from the contacts topic', () => {
  const config = testConfig('transformer');
  const kafka: Kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  const topic = topicName('contacts', config.kafka.topicPrefix);
  const storePath = join(mkdtempSync(join(tmpdir(), 'iks-directory-spec-')), 'store');
  const producer = kafka.producer();

  const produce = async (snaps: ContactSnapshot[]) => {
    const messages = await Promise.all(
      snaps.map(async (s) => ({ key: s.id, value: await codec.encode(topic, contactToAvro(s)) })),
    );
    await producer.send({ topic, acks: -1, messages });
  };

  /** One replica's start: open the store at storePath, follow the topic until caught up. */
  const start = async (
    reopenAfterRecords?: number,
  ): Promise<{ directory: Directory; follower: ContactsFollower; stop: () => Promise<void> }> => {
    const directory = new Directory(NO_INTERCOM_API, 60_000, {
      store: LmdbContactStore.open(storePath, topic),
      cacheContacts: 10,
    });
    const follower = await followContacts({
      kafka,
      codec,
      topic,
      groupPrefix: `${config.transformer.groupId}.directory`,
      directory,
      reopenAfterRecords,
    });
    return {
      directory,
      follower,
      stop: async () => {
        await follower.stop();
        await directory.close();
      },
    };
  };

  beforeAll(async () => {
    await prepareStage(kafka, config.kafka, codec, producer);
  });
  afterAll(async () => {
    await producer.disconnect();
    rmSync(join(storePath, '..'), { recursive: true, force: true });
  });

  it('builds from the topic, resumes from its stored offsets after a restart, follows live, rebuilds when damaged', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    await produce(ids.map((id) => live(id)));
    await produce([gone('c000')]);

    // first start: an empty store is filled from the beginning (and reopened: past 50 records here)
    let r = await start(50);
    expect(r.follower.start).toBe('rebuild');
    expect(r.follower.replayed).toBe(61);
    expect(r.follower.reopened).toBe(true);
    expect(r.directory.stats).toMatchObject({ contacts: 59, tombstones: 1 });
    expect(r.directory.contact('c042')?.email).toBe('c042@example.com');
    expect(r.directory.contactDeleted('c000')).toBe(true);

    // after the reopen it follows on from the stored offsets: an update, a deletion, a new contact
    await produce([live('c001', 'new-c001@example.com'), gone('c002')]);
    await waitFor(() => r.directory.contactDeleted('c002'), {
      what: 'c002 deleted, from the live topic after the reopen',
    });
    expect(r.directory.contact('c001')?.email).toBe('new-c001@example.com');
    expect(r.directory.stats).toMatchObject({ contacts: 58, tombstones: 2 });
    await r.stop();

    // while stopped: a new contact
    await produce([live('c100')]);

    // restart: only what was produced since is read
    r = await start();
    expect(r.follower.start).toBe('resume');
    expect(r.follower.replayed).toBe(1);
    expect(r.follower.reopened).toBe(false);
    expect(r.directory.stats).toMatchObject({ contacts: 59, tombstones: 2 });
    expect(r.directory.contact('c001')?.email).toBe('new-c001@example.com');
    expect(r.directory.contactDeleted('c002')).toBe(true);
    expect(r.directory.contact('c100')?.id).toBe('c100');
    // every contact still there (more than the cache holds: read through from disk)
    expect(ids.slice(3).every((id) => r.directory.contact(id)?.email === `${id}@example.com`)).toBe(true);

    // it keeps following the topic once ready
    await produce([live('c101')]);
    await waitFor(() => r.directory.contact('c101') !== undefined, { what: 'c101 from the live topic' });
    expect(r.directory.stats.contacts).toBe(60);
    await r.stop();

    // a damaged store is wiped and rebuilt from the whole topic
    const lmdbDir = join(storePath, 'lmdb');
    for (const f of readdirSync(lmdbDir)) writeFileSync(join(lmdbDir, f), Buffer.alloc(64 * 1024, 0x5a));
    r = await start();
    expect(r.follower.start).toBe('rebuild');
    expect(r.follower.replayed).toBe(61 + 3 + 1);
    expect(r.follower.reopened).toBe(false); // fewer records than the default 10,000
    expect(r.directory.stats).toMatchObject({ contacts: 60, tombstones: 2 });
    expect(r.directory.contact('c001')?.email).toBe('new-c001@example.com');
    expect(r.directory.contactDeleted('c000')).toBe(true);
    await r.stop();
  });

  it('a store written for another topic is rebuilt, and a second runner in this process does not share the folder', async () => {
    const other = LmdbContactStore.open(storePath, `${topic}.other`);
    expect(other.offsets().size).toBe(0); // the marker named another topic: emptied
    expect(other.counts()).toEqual({ contacts: 0, tombstones: 0 });
    const second = LmdbContactStore.open(storePath, topic);
    expect(second.path).not.toBe(storePath); // a temporary store beside it
    await second.close();
    await other.close();
    expect(readdirSync(join(storePath, '..')).filter((f) => f.includes('.tmp-'))).toEqual([]);

    const r = await start();
    expect(r.follower.start).toBe('rebuild');
    expect(r.directory.stats).toMatchObject({ contacts: 60, tombstones: 2 });
    await r.stop();
  });
});
