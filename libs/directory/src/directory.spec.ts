import type { ContactSnapshot } from '@iks/domain';
import type { IntercomContact, Loose } from '@iks/intercom';
import { MemoryContactStore } from './contact-store';
import { Directory } from './directory';
import { NO_INTERCOM_API } from './intercom-source';

const contact = (id: string, email = `${id}@example.com`): Loose<IntercomContact> =>
  ({ type: 'contact', id, email }) as Loose<IntercomContact>;
const snap = (id: string, c?: Loose<IntercomContact>): ContactSnapshot =>
  c
    ? { id, deleted: false, contact_json: JSON.stringify(c), recorded_at: 1 }
    : { id, deleted: true, contact_json: null, recorded_at: 1 };

describe('Directory over a contact store', () => {
  it('reads contacts and tombstones from the topic records, and counts them', () => {
    const d = new Directory(NO_INTERCOM_API, 60_000);
    d.applyRecords([
      { snapshot: snap('a', contact('a')), partition: 0, offset: '0' },
      { snapshot: snap('b', contact('b')), partition: 1, offset: '0' },
      { snapshot: snap('b'), partition: 1, offset: '1' },
    ]);
    expect(d.contact('a')?.email).toBe('a@example.com');
    expect(d.contact('b')).toBeUndefined();
    expect(d.contactDeleted('b')).toBe(true);
    expect(d.stats).toMatchObject({ contacts: 1, tombstones: 1 });
    expect(d.storedOffsets()).toEqual(
      new Map([
        [0, 1n],
        [1, 2n],
      ]),
    );
  });

  it('skips records below the stored offset (a fetch that started before the seek)', () => {
    const d = new Directory(NO_INTERCOM_API, 60_000);
    d.applyRecords([{ snapshot: snap('a', contact('a', 'new@example.com')), partition: 0, offset: '5' }]);
    d.applyRecords([{ snapshot: snap('a', contact('a', 'old@example.com')), partition: 0, offset: '3' }]);
    expect(d.contact('a')?.email).toBe('new@example.com');
  });

  it('a contact remembered or deleted here is seen at once, before its snapshot comes back from the topic', () => {
    const d = new Directory(NO_INTERCOM_API, 60_000);
    d.applyRecords([{ snapshot: snap('a', contact('a')), partition: 0, offset: '0' }]);
    const s = d.remember(contact('a', 'changed@example.com'));
    expect(d.contact('a')?.email).toBe('changed@example.com');
    d.applyRecords([{ snapshot: s, partition: 0, offset: '1' }]);
    expect(d.contact('a')?.email).toBe('changed@example.com');
    const t = d.tombstone('a');
    expect(d.contactDeleted('a')).toBe(true);
    expect(d.stats.tombstones).toBe(0); // the store counts what the topic confirmed
    d.applyRecords([{ snapshot: t, partition: 0, offset: '2' }]);
    expect(d.contactDeleted('a')).toBe(true);
    expect(d.stats).toMatchObject({ contacts: 0, tombstones: 1 });
  });

  it('a remembered contact whose snapshot never comes back stops shadowing the store after a minute', () => {
    let now = 1_000_000;
    const d = new Directory(NO_INTERCOM_API, 60 * 60_000, { now: () => now });
    d.applyRecords([{ snapshot: snap('a', contact('a', 'topic@example.com')), partition: 0, offset: '0' }]);
    d.remember(contact('a', 'lost@example.com'));
    expect(d.contact('a')?.email).toBe('lost@example.com');
    now += 61_000;
    expect(d.contact('a')?.email).toBe('topic@example.com');
  });

  it('keeps at most cacheContacts decoded contacts; the others are read again from the store', () => {
    const store = new MemoryContactStore();
    const reads: string[] = [];
    const read = store.read.bind(store);
    store.read = (id) => (reads.push(id), read(id));
    const d = new Directory(NO_INTERCOM_API, 60_000, { store, cacheContacts: 2 });
    d.applyRecords(
      ['a', 'b', 'c'].map((id, i) => ({ snapshot: snap(id, contact(id)), partition: 0, offset: String(i) })),
    );
    for (const id of ['a', 'b', 'a', 'c', 'a', 'b']) d.contact(id);
    // a, b read; a cached; c read (evicts b); a cached; b read again
    expect(reads).toEqual(['a', 'b', 'c', 'b']);
  });

  it('prepare() brings the contacts a notification needs into the cache', async () => {
    const store = new MemoryContactStore();
    const d = new Directory(NO_INTERCOM_API, 60_000, { store, cacheContacts: 10 });
    d.applyRecords([{ snapshot: snap('a', contact('a')), partition: 0, offset: '0' }]);
    const read = jest.spyOn(store, 'read');
    await d.prepare({ contactIds: ['a'], adminIds: [], teamIds: [], tagIds: [], subscriptionContactIds: [] } as never);
    expect(read).toHaveBeenCalledTimes(1);
    expect(d.contact('a')?.id).toBe('a');
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('apply() without an offset still feeds the directory (tools, specs)', () => {
    const d = new Directory(NO_INTERCOM_API, 60_000);
    d.apply(snap('x', contact('x')));
    d.apply(snap('y'));
    expect(d.contact('x')?.id).toBe('x');
    expect(d.contactDeleted('y')).toBe(true);
    expect(d.stats).toMatchObject({ contacts: 1, tombstones: 1 });
  });
});
