import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONNECTION_ID, type KlaviyoEventRecord, type RawNotification } from '@iks/domain';
import { Directory, NO_INTERCOM_API, type IntercomSource } from '@iks/directory';
import type { IntercomContact, Loose } from '@iks/intercom';
import type { MappingOptions } from '@iks/mapping';
import { processNotification } from './notification-processor';

const FIXTURES = join(__dirname, '..', '..', 'mapping', 'fixtures');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture) changed field by field
const read = (name: string): any => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
const ADA = '6571f0a1b2c3d4e5f6a7b8c9';
const LEAD = '6571f0a1b2c3d4e5f6a7b8d0'; // no email, phone "0412 345 678" (E.164 only with a default region)

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture)
function raw(envelope: any, connectionId?: string): RawNotification {
  return {
    notification_id: envelope.id,
    topic: envelope.topic,
    app_id: envelope.app_id,
    created_at: envelope.created_at,
    delivery_attempts: 1,
    first_sent_at: null,
    received_at: 1_764_000_000_000,
    source: 'webhook',
    body: JSON.stringify(envelope),
    ...(connectionId ? { connection_id: connectionId } : {}),
  };
}

/** A workspace's REST API as the fixture files give it, with its own contacts and admin names. */
function workspace(o: { contacts?: Loose<IntercomContact>[]; adminName?: string } = {}): IntercomSource {
  const contacts: Loose<IntercomContact>[] = o.contacts ?? read('contacts');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture)
  const admins = read('admins').map((a: any) => (o.adminName ? { ...a, name: o.adminName } : a));
  const subs = read('subscriptions');
  return {
    enabled: true,
    getContact: async (id) => contacts.find((c) => String(c.id) === id),
    getContactSubscriptions: async (id) => (Array.isArray(subs[id]) ? subs[id] : (subs[id]?.data ?? [])),
    listAdmins: async () => admins,
    listTeams: async () => read('teams'),
    listTags: async () => read('tags'),
  };
}

const withEmail = (email: string) =>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture)
  read('contacts').map((c: any) => (c.id === ADA ? { ...c, email } : c));

const events = (records: readonly { kind: string }[]) =>
  records.filter((r): r is KlaviyoEventRecord => r.kind === 'event');

describe('transformer per connection: two workspaces with the same contact id do not mix', () => {
  it('each workspace maps with its own contacts, admins and settings; every record and snapshot says its connection', async () => {
    const directory = new Directory(NO_INTERCOM_API, 60 * 60_000);
    const a = directory.forConnection('acme', () =>
      workspace({ contacts: withEmail('ada@acme.example'), adminName: 'Anna Acme' }),
    );
    const b = directory.forConnection('globex', () =>
      workspace({ contacts: withEmail('ada@globex.example'), adminName: 'Bert Globex' }),
    );
    const optionsA: MappingOptions = {};
    const optionsB: MappingOptions = { metricNames: { conversationCreated: 'Globex Chat Started' } };
    const conversation = read('notifications/conversation.user.created');

    const outA = await processNotification(raw(conversation, 'acme'), a, optionsA);
    const outB = await processNotification(raw(conversation, 'globex'), b, optionsB);
    const [eventA] = events(outA.records);
    const [eventB] = events(outB.records);
    expect(eventA).toMatchObject({
      connection_id: 'acme',
      metric: 'Conversation Created',
      profile: { email: 'ada@acme.example' },
      intercom_contact_id: ADA,
      properties: expect.objectContaining({ 'Assigned Admin Name': 'Anna Acme' }),
    });
    expect(eventB).toMatchObject({
      connection_id: 'globex',
      metric: 'Globex Chat Started',
      profile: { email: 'ada@globex.example' },
      intercom_contact_id: ADA,
      properties: expect.objectContaining({ 'Assigned Admin Name': 'Bert Globex' }),
    });
    // unique_ids are Intercom's ids, whatever the connection (Klaviyo deduplicates per account)
    expect(eventA.unique_id).toBe(eventB.unique_id);
    for (const r of [...outA.records, ...outA.snapshots]) expect(r.connection_id).toBe('acme');
    for (const r of [...outB.records, ...outB.snapshots]) expect(r.connection_id).toBe('globex');

    // the snapshots come back from the topic (one store for both): each workspace still sees its own
    for (const s of [...outA.snapshots, ...outB.snapshots]) directory.apply(s);
    expect(a.contact(ADA)?.email).toBe('ada@acme.example');
    expect(b.contact(ADA)?.email).toBe('ada@globex.example');
    expect(directory.contact(ADA)).toBeUndefined(); // the default workspace never heard of this contact
    expect(directory.stats.contacts).toBe(2);
  });

  it("a contact deleted in one workspace stays in the other's", async () => {
    const directory = new Directory(NO_INTERCOM_API, 60 * 60_000);
    const a = directory.forConnection('acme', () => NO_INTERCOM_API);
    const b = directory.forConnection('globex', () => NO_INTERCOM_API);
    const created = read('notifications/contact.user.created');
    for (const [view, id] of [
      [a, 'acme'],
      [b, 'globex'],
    ] as const) {
      const out = await processNotification(raw(created, id), view, {});
      for (const s of out.snapshots) directory.apply(s);
    }
    const contactId = String(created.data.item.id);
    const deleted = read('notifications/contact.deleted');
    deleted.data.item.id = contactId;
    const out = await processNotification(raw(deleted, 'acme'), a, {});
    expect(out.snapshots).toEqual([expect.objectContaining({ id: contactId, deleted: true, connection_id: 'acme' })]);
    for (const s of out.snapshots) directory.apply(s);
    expect(a.contactDeleted(contactId)).toBe(true);
    expect(b.contactDeleted(contactId)).toBe(false);
    expect(b.contact(contactId)).toBeDefined();
  });

  it("a connection's phone region and delete-on-archive apply to its records only", async () => {
    const directory = new Directory(NO_INTERCOM_API, 60 * 60_000);
    const conversation = read('notifications/conversation.user.created');
    conversation.data.item.contacts.contacts[0].id = LEAD;
    if (conversation.data.item.source?.author) conversation.data.item.source.author.id = LEAD;
    const us = directory.forConnection('us', () => workspace());
    const au = directory.forConnection('au', () => workspace());
    const inUs = await processNotification(raw(conversation, 'us'), us, {});
    const inAu = await processNotification(raw(conversation, 'au'), au, { defaultPhoneRegion: 'AU' });
    expect(inUs.kind).toBe('pending'); // no email, and "0412 345 678" is no E.164 phone without a region
    expect(events(inAu.records)[0]).toMatchObject({ connection_id: 'au', profile: { phone_number: '+61412345678' } });

    const archived = read('notifications/contact.archived');
    const keep = await processNotification(raw(archived, 'us'), us, { deleteOnArchive: false });
    const drop = await processNotification(raw(archived, 'au'), au, { deleteOnArchive: true });
    expect(keep.records.filter((r) => r.kind === 'deletion')).toEqual([]);
    expect(drop.records.filter((r) => r.kind === 'deletion')).toEqual([
      expect.objectContaining({ kind: 'deletion', connection_id: 'au' }),
    ]);
  });

  it("refuses to map a notification with another connection's directory", async () => {
    const directory = new Directory(NO_INTERCOM_API, 60_000);
    const conversation = read('notifications/conversation.user.created');
    await expect(processNotification(raw(conversation, 'acme'), directory, {})).rejects.toThrow(
      /connection acme mapped with the directory of connection default/,
    );
  });
});

/**
 * unique_ids of a single-workspace deployment do not change across the upgrade (nothing is sent
 * twice): __fixtures__/unique-ids.before-connections.json is what the transformer of main before
 * connections (06a1892, its dist build) produced for each fixture notification, each mapped on
 * its own with the fixture workspace (contacts, admins, teams, tags, subscriptions) behind it.
 */
describe('unique_ids across the upgrade to connections', () => {
  const before = JSON.parse(
    readFileSync(join(__dirname, '__fixtures__', 'unique-ids.before-connections.json'), 'utf8'),
  ) as Array<{ fixture: string; outcome: string; unique_ids: string[] }>;

  async function today(connectionId: string) {
    const rows: Array<{ fixture: string; outcome: string; unique_ids: string[] }> = [];
    const files = readdirSync(join(FIXTURES, 'notifications'))
      .filter((f) => f.endsWith('.json'))
      .sort();
    for (const fixture of files) {
      const directory = new Directory(
        connectionId === DEFAULT_CONNECTION_ID ? workspace() : NO_INTERCOM_API,
        60 * 60_000,
        {
          now: () => 1_764_000_000_000,
        },
      );
      const view = directory.forConnection(connectionId, () => workspace());
      const envelope = read(`notifications/${fixture.replace(/\.json$/, '')}`);
      try {
        const out = await processNotification(
          raw(envelope, connectionId === DEFAULT_CONNECTION_ID ? undefined : connectionId),
          view,
          {},
        );
        for (const s of out.snapshots) directory.apply(s);
        rows.push({ fixture, outcome: out.kind, unique_ids: events(out.records).map((e) => e.unique_id) });
      } catch (e) {
        rows.push({ fixture, outcome: `error:${(e as Error).name}`, unique_ids: [] });
      }
    }
    return rows;
  }

  it('the default connection produces exactly the unique_ids (and outcomes) of before', async () => {
    expect(before.flatMap((r) => r.unique_ids).length).toBeGreaterThanOrEqual(10);
    expect(await today(DEFAULT_CONNECTION_ID)).toEqual(before);
  });

  it('another connection with the same workspace data produces the same unique_ids too', async () => {
    expect(await today('acme')).toEqual(before);
  });
});
