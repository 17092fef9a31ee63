import { entityKey, type IntercomEnvelope, type RawNotification } from '@iks/domain';
import { mapNotification, staticLookups } from '@iks/mapping';
import { parseEraseArgs, type EraseArgs } from './erase.args';
import { erasureNotification } from './erase.command';

const args = (over: Partial<EraseArgs>): EraseArgs => ({
  connectionId: 'default',
  contactId: null,
  email: null,
  phone: null,
  yes: true,
  ...over,
});

describe('erase arguments', () => {
  it('takes exactly one identifier, and the connection (default "default")', () => {
    expect(parseEraseArgs(['--contact-id', 'c1', '--yes'])).toEqual({
      ok: true,
      value: args({ contactId: 'c1' }),
    });
    expect(parseEraseArgs(['--email', 'ann@example.com', '--connection', 'alpha'])).toEqual({
      ok: true,
      value: args({ email: 'ann@example.com', connectionId: 'alpha', yes: false }),
    });
    expect(parseEraseArgs([])).toEqual({ ok: false, error: expect.stringContaining('exactly one of') });
    expect(parseEraseArgs(['--email', 'a@b.c', '--phone', '+15550100'])).toEqual({
      ok: false,
      error: expect.stringContaining('exactly one of'),
    });
    expect(parseEraseArgs(['--email', 'not-an-email'])).toEqual({
      ok: false,
      error: expect.stringContaining('--email'),
    });
    expect(parseEraseArgs(['--phone', 'call me'])).toEqual({ ok: false, error: expect.stringContaining('--phone') });
    expect(parseEraseArgs(['--contact-id', 'c1', '--connection', 'Not An Id'])).toEqual({
      ok: false,
      error: expect.stringContaining('--connection'),
    });
    expect(parseEraseArgs(['--contact-id'])).toEqual({ ok: false, error: '--contact-id needs a value' });
  });
});

/** The request through MAPPING.md's mapping, with `contacts` as the directory (the transformer reads it as live, not backfill). */
function mapAsTheTransformer(record: RawNotification, contacts: Array<Record<string, unknown>>) {
  const lookups = staticLookups({
    contacts,
    admins: [],
    teams: [],
    tags: [],
    subscriptions: {},
    deletedContactIds: [],
  });
  const body = JSON.parse(record.body) as IntercomEnvelope;
  const input = {
    notificationId: record.notification_id,
    topic: record.topic,
    createdAt: record.created_at,
    source: 'webhook' as const,
    body,
  };
  return mapNotification(input, lookups, {});
}

describe('the erasure request', () => {
  it("is a contact.deleted of source operator that MAPPING.md's deletion maps from the directory by contact id", () => {
    const { record, key, contactId } = erasureNotification(
      args({ contactId: 'c42', connectionId: 'alpha' }),
      'ws1',
      1_700_000_000_500,
    );
    expect(record).toMatchObject({
      topic: 'contact.deleted',
      source: 'operator',
      app_id: 'ws1',
      created_at: 1_700_000_000,
      received_at: 1_700_000_000_500,
      connection_id: 'alpha',
    });
    expect(contactId).toBe('c42');
    const body = JSON.parse(record.body) as IntercomEnvelope;
    expect(key).toBe(`alpha/${entityKey(body)}`);
    const mapped = mapAsTheTransformer(record, [
      { type: 'contact', id: 'c42', email: 'ann@example.com', role: 'user' },
    ]);
    expect(mapped).toEqual({
      kind: 'records',
      records: [
        {
          kind: 'deletion',
          intercom_contact_id: 'c42',
          email: 'ann@example.com',
          requested_at: 1_700_000_000_000,
          source_notification_id: record.notification_id,
        },
      ],
      notes: [],
    });
  });

  it('by email alone: the deletion asks by that email, under an id of its own that names nobody', () => {
    const { record, contactId } = erasureNotification(args({ email: 'bob@example.com' }), '', 1_700_000_000_000);
    expect(record.connection_id).toBeUndefined(); // the default connection
    expect(contactId).toMatch(/^operator-[0-9a-f-]{36}$/);
    const mapped = mapAsTheTransformer(record, []);
    expect(mapped).toMatchObject({
      kind: 'records',
      records: [{ kind: 'deletion', intercom_contact_id: contactId, email: 'bob@example.com' }],
    });
    // two requests are two notifications (nothing deduplicates an operator's second try away)
    expect(erasureNotification(args({ email: 'bob@example.com' }), '', 1).record.notification_id).not.toBe(
      record.notification_id,
    );
  });
});
