import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import type { ContactSnapshot } from '@iks/domain';
import { LmdbContactStore, STORE_FORMAT } from './lmdb-contact-store';
import { mappedContactJson } from './mapped-contact';
import { DELETED } from './contact-store';

const TOPIC = 'spec.intercom.contacts.v1';

/** A REST-shaped contact with values that differ per contact (nothing a dictionary could know). */
function contact(i: number): ContactSnapshot {
  const id = `65${i.toString(16).padStart(22, '0')}`;
  const c = {
    type: 'contact',
    id,
    role: i % 3 ? 'user' : 'lead',
    email: `person${i * 7919}@mail${i % 97}.example.com`,
    phone: `+4420794${String(i).padStart(5, '0')}`,
    name: `Given${i} Family${i * 31}`,
    avatar: { image_url: `https://static.intercomassets.com/avatars/${id}/square_128/a.png` },
    location: { city: `City${i % 500}`, country: `Country${i % 50}`, region: null },
    has_hard_bounced: false,
    marked_email_as_spam: false,
    unsubscribed_from_emails: i % 2 === 0,
    custom_attributes: { plan: `p${i % 7}`, seats: i % 40 },
    tags: { data: [{ id: String(i % 13) }] },
    created_at: 1_751_000_000 + i,
    updated_at: 1_763_900_000 + i,
  };
  return { id, deleted: false, contact_json: JSON.stringify(c), recorded_at: 1_764_000_000_000 };
}

describe('LmdbContactStore on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iks-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back every contact across a reopen, and is much smaller than the same values compressed without the dictionary', async () => {
    const n = 3000;
    const store = LmdbContactStore.open(join(dir, 'store'), TOPIC);
    for (let i = 0; i < n; i++) store.put(contact(i));
    await store.close();
    const again = LmdbContactStore.open(join(dir, 'store'), TOPIC);
    for (let i = 0; i < n; i += 97) expect(again.read(contact(i).id)).toBe(mappedContactJson(contact(i).contact_json!));
    expect(again.counts()).toEqual({ contacts: n, tombstones: 0 });
    await again.close();

    // the same values in a store of the previous format (LZ4 without a dictionary)
    const plain = open({
      path: join(dir, 'plain'),
      maxDbs: 4,
      compression: { threshold: 128 },
      noReadAhead: true,
    } as never);
    const db = plain.openDB<string, string>({ name: 'contacts', encoding: 'string' } as never);
    await plain.transaction(() => {
      for (let i = 0; i < n; i++) db.put(contact(i).id, mappedContactJson(contact(i).contact_json!));
    });
    await plain.close();
    const withDictionary = statSync(join(dir, 'store', 'lmdb', 'data.mdb')).size;
    const without = statSync(join(dir, 'plain', 'data.mdb')).size;
    expect(withDictionary).toBeLessThan(without * 0.75);
  });

  it('rebuilds a store written in the previous format (values compressed without the dictionary) instead of misreading it', async () => {
    const old = open({
      path: join(dir, 'store', 'lmdb'),
      maxDbs: 4,
      compression: { threshold: 128 },
      noReadAhead: true,
    } as never);
    const db = old.openDB<string, string>({ name: 'contacts', encoding: 'string' } as never);
    const meta = old.openDB<unknown, string>({ name: 'meta' } as never);
    await old.transaction(() => {
      db.put(contact(1).id, mappedContactJson(contact(1).contact_json!));
      meta.put('marker', { format: STORE_FORMAT - 1, topic: TOPIC });
      meta.put('offsets', { 0: '5' });
      meta.put('counts', { contacts: 1, tombstones: 0 });
    });
    await old.close();
    const store = LmdbContactStore.open(join(dir, 'store'), TOPIC);
    expect(store.offsets().size).toBe(0); // read again from the beginning of the topic
    expect(store.read(contact(1).id)).toBeUndefined();
    expect(store.counts()).toEqual({ contacts: 0, tombstones: 0 });
    await store.close();
  });
});

describe("LmdbContactStore sealing its contacts under the people's keys (docs/ERASURE.md)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iks-store-sealed-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in for SubjectKeys: a key per person (XOR, enough to tell sealed from clear), destroyed by erase(). */
  function sealer() {
    const keys = new Map<string, number>();
    const erased = new Set<string>();
    return {
      erase: (contactId: string) => (keys.delete(contactId), erased.add(contactId)),
      seal(_c: string, contactId: string, value: string): Buffer | null {
        if (!keys.has(contactId) && !erased.has(contactId)) keys.set(contactId, 1 + keys.size);
        const k = keys.get(contactId) ?? 0xaa;
        return Buffer.from(Buffer.from(value, 'utf8').map((b) => b ^ k));
      },
      open(_c: string, contactId: string, sealed: Buffer): string | null {
        const k = keys.get(contactId);
        return k === undefined ? null : Buffer.from(sealed.map((b) => b ^ k)).toString('utf8');
      },
    };
  }

  it('keeps no clear value on disk, reads it back while her key lives, reads her as deleted once erased; counts hold', async () => {
    const s = sealer();
    const store = LmdbContactStore.open(dir, TOPIC, s);
    const ann = contact(1);
    const bob = contact(2);
    store.apply([
      { snapshot: ann, partition: 0, offset: '0' },
      { snapshot: bob, partition: 0, offset: '1' },
    ]);
    const email = JSON.parse(ann.contact_json!).email as string;
    expect(store.read(ann.id)).toBe(mappedContactJson(ann.contact_json!));
    // a new value of hers, then her tombstone: the old pages are freed, not overwritten
    store.apply([{ snapshot: { ...ann, recorded_at: 2 }, partition: 0, offset: '2' }]);
    s.erase(ann.id);
    expect(store.read(ann.id)).toBe(DELETED);
    store.apply([
      { snapshot: { id: ann.id, deleted: true, contact_json: null, recorded_at: 3 }, partition: 0, offset: '3' },
    ]);
    expect(store.counts()).toEqual({ contacts: 1, tombstones: 1 });
    expect(store.read(bob.id)).toBe(mappedContactJson(bob.contact_json!));
    await store.close();
    const file = readFileSync(join(dir, 'lmdb', 'data.mdb')).toString('latin1');
    expect(file.includes(email)).toBe(false);
    expect(file.includes(JSON.parse(bob.contact_json!).email)).toBe(false);
    // reopened (the child's check counts the entries as they are on disk)
    const again = LmdbContactStore.open(dir, TOPIC, s);
    expect(again.counts()).toEqual({ contacts: 1, tombstones: 1 });
    expect(again.read(bob.id)).toBe(mappedContactJson(bob.contact_json!));
    await again.close();
  });
});
