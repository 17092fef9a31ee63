// Expected Klaviyo records are written out in full from docs/MAPPING.md, not generated from the code.
import { mapNotification } from '../notification.mapper';
import { MappingError } from '../mapping.error';
import type { MapOutcome } from '../mapping.types';
import type { KlaviyoEventRecord } from '@iks/domain';
import { fixtureLookups, inputFor, loadJson } from './fixture.helpers';

const ADA = '6571f0a1b2c3d4e5f6a7b8c9';
const BOB = '6571f0a1b2c3d4e5f6a7b8d0';
const GRACE = '6571f0a1b2c3d4e5f6a7b8d1';
const LIN = '6571f0a1b2c3d4e5f6a7b8d2';

function records(outcome: MapOutcome) {
  if (outcome.kind !== 'records') throw new Error(`expected records, got ${JSON.stringify(outcome)}`);
  return outcome.records;
}

/** Conversation properties shared by the four conversation fixtures (conversation 1911149811). */
const CONVERSATION_PROPERTIES = {
  email: 'ada@example.com',
  phone_number: '+447911123456',
  'Waiting Since': '2025-11-24T11:16:40Z',
  Priority: 'priority',
  'Assigned Team': 'Billing Support',
  'Assigned Admin Name': 'Marta Rossi',
  'Assigned Admin Email': 'marta.rossi@support.example.com',
  Tags: ['Churn risk'],
  'Conversation Source': 'email',
  'Conversation Delivered As': 'customer_initiated',
  'Conversation Parts Count': 5,
  'SLA Status': 'active',
  'Reopened Count': 1,
  'Assignment Count': 2,
  'Custom Attributes': { 'Order number': 'A-10023', 'Issue type': 'Billing' },
  'Conversation ID': '1911149811',
};

const TICKET_TEXT = {
  'Ticket ID': '2189',
  'Ticket Name': 'Refund not received',
  'Ticket Description': 'I returned order A-10023 three weeks ago.',
};

describe('mapNotification: conversation metrics', () => {
  const lookups = fixtureLookups();

  it('conversation.user.created → Conversation Created', () => {
    const outcome = mapNotification(inputFor('conversation.user.created.json'), lookups);
    expect(outcome).toEqual({
      kind: 'records',
      notes: [],
      records: [
        {
          kind: 'event',
          metric: 'Conversation Created',
          profile: { email: 'ada@example.com', phone_number: '+447911123456' },
          properties: CONVERSATION_PROPERTIES,
          time: '2025-11-24T10:26:40Z',
          unique_id: 'intercom:conversation:1911149811:created',
          backfill: false,
          intercom_contact_id: ADA,
          source_notification_id: 'notif_0a1b2c3d-1111-4e5f-8a9b-000000000001',
          source_topic: 'conversation.user.created',
        },
      ],
    });
  });

  it('conversation.rating.added → Conversation Rated, keyed on the rating time', () => {
    expect(records(mapNotification(inputFor('conversation.rating.added.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Conversation Rated',
        profile: { email: 'ada@example.com', phone_number: '+447911123456' },
        properties: { ...CONVERSATION_PROPERTIES, 'Conversation Rating': 5 },
        time: '2025-11-24T13:13:20Z',
        unique_id: 'intercom:conversation:1911149811:rated:1763990000',
        backfill: false,
        intercom_contact_id: ADA,
        source_notification_id: 'notif_0a1b2c3d-1111-4e5f-8a9b-000000000003',
        source_topic: 'conversation.rating.added',
      },
    ]);
  });

  it('conversation.read → Read Conversation at the notification time; null/empty sources omitted, empty lists kept', () => {
    expect(records(mapNotification(inputFor('conversation.read.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Read Conversation',
        profile: { email: 'ada@example.com', phone_number: '+447911123456' },
        properties: {
          email: 'ada@example.com',
          phone_number: '+447911123456',
          Title: 'Invoice question',
          'Snoozed Until': '2025-11-24T16:00:00Z',
          'Waiting Since': '2025-11-24T11:16:40Z',
          Priority: 'not_priority',
          Tags: [],
          'Conversation Source': 'email',
          'Conversation Delivered As': 'customer_initiated',
          'Conversation Parts Count': 5,
          'Reopened Count': 1,
          'Assignment Count': 2,
          'Custom Attributes': {},
          'Conversation ID': '1911149811',
        },
        time: '2025-11-24T11:33:20Z',
        unique_id: 'intercom:conversation:1911149811:read:notif_0a1b2c3d-1111-4e5f-8a9b-000000000004',
        backfill: false,
        intercom_contact_id: ADA,
        source_notification_id: 'notif_0a1b2c3d-1111-4e5f-8a9b-000000000004',
        source_topic: 'conversation.read',
      },
    ]);
  });

  it('conversation.user.replied → Replied to Conversation on the newest contact part', () => {
    expect(records(mapNotification(inputFor('conversation.user.replied.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Replied to Conversation',
        profile: { email: 'ada@example.com', phone_number: '+447911123456' },
        properties: CONVERSATION_PROPERTIES,
        time: '2025-11-24T11:16:40Z',
        unique_id: 'intercom:conversation:1911149811:part:30123405',
        backfill: false,
        intercom_contact_id: ADA,
        source_notification_id: 'notif_0a1b2c3d-1111-4e5f-8a9b-000000000002',
        source_topic: 'conversation.user.replied',
      },
    ]);
  });

  it('a reply without any contact part falls back to the notification id and time', () => {
    const n = inputFor('conversation.user.replied.json', 'webhook', (item) => {
      item.conversation_parts.conversation_parts = item.conversation_parts.conversation_parts.filter(
        (p: { author: { type: string } }) => p.author.type === 'admin',
      );
    });
    const [event] = records(mapNotification(n, lookups));
    expect(event).toMatchObject({
      unique_id: 'intercom:conversation:1911149811:part:notif_0a1b2c3d-1111-4e5f-8a9b-000000000002',
      time: '2025-11-24T11:16:41Z',
    });
  });

  it('a lead author counts as the contact', () => {
    const n = inputFor('conversation.user.replied.json', 'webhook', (item) => {
      item.conversation_parts.conversation_parts.push({
        type: 'conversation_part',
        id: '30123499',
        part_type: 'comment',
        created_at: 1763983500,
        author: { type: 'lead', id: ADA },
      });
    });
    expect(records(mapNotification(n, lookups))[0]).toMatchObject({
      unique_id: 'intercom:conversation:1911149811:part:30123499',
      time: '2025-11-24T11:25:00Z',
    });
  });

  it('is robust to missing and null fields and integer ids', () => {
    const n = inputFor('conversation.user.created.json', 'webhook', (item) => {
      item.id = 1911149811;
      item.title = '';
      item.waiting_since = null;
      item.statistics = null;
      item.sla_applied = null;
      item.custom_attributes = null;
      delete item.tags;
      delete item.source;
      delete item.priority;
      item.conversation_parts = { type: 'conversation_part.list', conversation_parts: [], total_count: 7 };
      item.admin_assignee_id = 991267;
      item.team_assignee_id = null;
    });
    expect(records(mapNotification(n, lookups))[0]).toMatchObject({
      unique_id: 'intercom:conversation:1911149811:created',
      properties: {
        email: 'ada@example.com',
        phone_number: '+447911123456',
        'Assigned Admin Name': 'Operator',
        'Assigned Admin Email': 'operator+k9x2m4p7@intercom.io',
        'Conversation Parts Count': 7,
        'Conversation ID': '1911149811',
      },
    });
    expect(Object.keys(records(mapNotification(n, lookups))[0]).length).toBe(10);
    expect(Object.keys((records(mapNotification(n, lookups))[0] as KlaviyoEventRecord).properties).sort()).toEqual(
      [
        'Assigned Admin Email',
        'Assigned Admin Name',
        'Conversation ID',
        'Conversation Parts Count',
        'email',
        'phone_number',
      ].sort(),
    );
  });

  it('takes the contact from source.author when the contact list is empty, and names tags from the directory', () => {
    const n = inputFor('conversation.user.created.json', 'webhook', (item) => {
      item.contacts.contacts = [];
      item.tags.tags = [
        { type: 'tag', id: '17' },
        { type: 'tag', id: '999' },
      ];
    });
    expect(records(mapNotification(n, lookups))[0]).toMatchObject({
      intercom_contact_id: ADA,
      properties: { Tags: ['VIP'] },
    });
  });
});

describe('mapNotification: ticket metrics', () => {
  const lookups = fixtureLookups();

  it('ticket.created → Ticket Created; unassigned ("0") assignees omitted; no phone → email only', () => {
    expect(mapNotification(inputFor('ticket.created.json'), lookups)).toEqual({
      kind: 'records',
      notes: [],
      records: [
        {
          kind: 'event',
          metric: 'Ticket Created',
          profile: { email: 'grace@example.org' },
          properties: {
            email: 'grace@example.org',
            Category: 'Customer',
            'Snoozed Until': '2025-11-26T23:33:20Z',
            'Ticket Parts Count': 1,
            ...TICKET_TEXT,
            'Ticket Type': 'Refund request',
            Shared: true,
          },
          time: '2025-11-24T16:00:00Z',
          unique_id: 'intercom:ticket:2189:created',
          backfill: false,
          intercom_contact_id: GRACE,
          source_notification_id: 'notif_0a1b2c3d-2222-4e5f-8a9b-000000000001',
          source_topic: 'ticket.created',
        },
      ],
    });
  });

  it('ticket.state.updated to waiting_on_customer → Ticket Marked as Waiting at the state part time', () => {
    expect(records(mapNotification(inputFor('ticket.state.updated.waiting_on_customer.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Ticket Marked as Waiting',
        profile: { email: 'grace@example.org' },
        properties: {
          email: 'grace@example.org',
          Category: 'Customer',
          'Assigned Team': 'Billing Support',
          'Assigned Admin Name': 'Marta Rossi',
          'Assigned Admin Email': 'marta.rossi@support.example.com',
          'Snoozed Until': '2025-11-26T23:33:20Z',
          'Ticket Parts Count': 3,
          ...TICKET_TEXT,
          'Ticket Type': 'Refund request',
          Shared: true,
        },
        time: '2025-11-24T18:00:00Z',
        unique_id: 'intercom:ticket:2189:state:waiting_on_customer:1764007200',
        backfill: false,
        intercom_contact_id: GRACE,
        source_notification_id: 'notif_0a1b2c3d-2222-4e5f-8a9b-000000000003',
        source_topic: 'ticket.state.updated',
      },
    ]);
  });

  it('ticket.state.updated in API 2.11 shape (string state) → Ticket Submitted at updated_at when no part moved it', () => {
    expect(records(mapNotification(inputFor('ticket.state.updated.submitted.2_11.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Ticket Submitted',
        profile: { email: 'grace@example.org' },
        properties: {
          email: 'grace@example.org',
          Category: 'Customer',
          'Assigned Team': 'Onboarding',
          'Assigned Admin Name': 'Marta Rossi',
          'Assigned Admin Email': 'marta.rossi@support.example.com',
          'Snoozed Until': '2025-11-26T23:33:20Z',
          ...TICKET_TEXT,
          'Ticket Type': 'Refund request',
          Shared: true,
        },
        time: '2025-11-25T19:46:40Z',
        unique_id: 'intercom:ticket:2189:state:submitted:1764100000',
        backfill: false,
        intercom_contact_id: GRACE,
        source_notification_id: 'notif_0a1b2c3d-2222-4e5f-8a9b-000000000007',
        source_topic: 'ticket.state.updated',
      },
    ]);
  });

  it('ticket.state.updated to in_progress is skipped with a reason', () => {
    expect(mapNotification(inputFor('ticket.state.updated.in_progress.json'), lookups)).toEqual({
      kind: 'skip',
      reason: 'ticket state in_progress not mapped',
    });
  });

  it('ticket.contact.replied → Replied to Ticket on the newest contact part', () => {
    expect(records(mapNotification(inputFor('ticket.contact.replied.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Replied to Ticket',
        profile: { email: 'grace@example.org' },
        properties: {
          email: 'grace@example.org',
          Category: 'Customer',
          'Assigned Team': 'Billing Support',
          'Assigned Admin Name': 'Marta Rossi',
          'Assigned Admin Email': 'marta.rossi@support.example.com',
          'Snoozed Until': '2025-11-26T23:33:20Z',
          'Ticket Parts Count': 6,
          ...TICKET_TEXT,
          'Ticket Type': 'Refund request',
          Shared: true,
        },
        time: '2025-11-24T18:47:40Z',
        unique_id: 'intercom:ticket:2189:part:58005',
        backfill: false,
        intercom_contact_id: GRACE,
        source_notification_id: 'notif_0a1b2c3d-2222-4e5f-8a9b-000000000004',
        source_topic: 'ticket.contact.replied',
      },
    ]);
  });

  const RESOLVED_PROPERTIES = {
    'Contact Email': 'grace@example.org',
    Category: 'Customer',
    'Team Name': 'Billing Support',
    'Admin Name': 'Marta Rossi',
    'Admin Email': 'marta.rossi@support.example.com',
    ...TICKET_TEXT,
    'Is Shared': true,
  };

  it('ticket.resolved → Ticket Resolved with its own property names', () => {
    expect(records(mapNotification(inputFor('ticket.resolved.json'), lookups))).toEqual([
      {
        kind: 'event',
        metric: 'Ticket Resolved',
        profile: { email: 'grace@example.org' },
        properties: RESOLVED_PROPERTIES,
        time: '2025-11-25T16:00:00Z',
        unique_id: 'intercom:ticket:2189:state:resolved:1764086400',
        backfill: false,
        intercom_contact_id: GRACE,
        source_notification_id: 'notif_0a1b2c3d-2222-4e5f-8a9b-000000000006',
        source_topic: 'ticket.resolved',
      },
    ]);
  });

  it('ticket.state.updated (resolved) and ticket.resolved for one resolution give one unique_id', () => {
    const [a] = records(
      mapNotification(inputFor('ticket.state.updated.resolved.json'), lookups),
    ) as KlaviyoEventRecord[];
    const [b] = records(mapNotification(inputFor('ticket.resolved.json'), lookups)) as KlaviyoEventRecord[];
    expect(a).toEqual({
      ...b,
      source_notification_id: 'notif_0a1b2c3d-2222-4e5f-8a9b-000000000005',
      source_topic: 'ticket.state.updated',
    });
    expect(a.unique_id).toBe(b.unique_id);
    // ... also when one of them comes in the 2.11 shape, and when backfilled.
    const legacy = inputFor('ticket.state.updated.resolved.json', 'backfill', (item) => {
      item.ticket_state = 'resolved';
      item.ticket_state_internal_label = 'Resolved';
    });
    expect(records(mapNotification(legacy, lookups))[0]).toMatchObject({
      unique_id: b.unique_id,
      metric: 'Ticket Resolved',
      backfill: true,
    });
  });

  it('without a part that moved the state, t is the ticket updated_at for both resolve topics', () => {
    const strip = (item: { ticket_parts: { ticket_parts: Array<{ ticket_state?: string }> } }) => {
      item.ticket_parts.ticket_parts = item.ticket_parts.ticket_parts.filter((p) => p.ticket_state !== 'resolved');
    };
    const a = records(mapNotification(inputFor('ticket.state.updated.resolved.json', 'webhook', strip), lookups))[0];
    const b = records(mapNotification(inputFor('ticket.resolved.json', 'webhook', strip), lookups))[0];
    expect(a).toMatchObject({
      unique_id: 'intercom:ticket:2189:state:resolved:1764087000',
      time: '2025-11-25T16:10:00Z',
    });
    expect(b).toMatchObject({ unique_id: 'intercom:ticket:2189:state:resolved:1764087000' });
  });

  it('ticket.state.updated without any ticket_state cannot be mapped', () => {
    const n = inputFor('ticket.state.updated.resolved.json', 'webhook', (item) => delete item.ticket_state);
    expect(() => mapNotification(n, lookups)).toThrow(MappingError);
  });

  it('ticket ids given as integers are normalised', () => {
    const n = inputFor('ticket.created.json', 'webhook', (item) => {
      item.id = 2189;
      item.admin_assignee_id = 814860;
      item.team_assignee_id = 5017691;
    });
    expect(records(mapNotification(n, lookups))[0]).toMatchObject({
      unique_id: 'intercom:ticket:2189:created',
      properties: { 'Ticket ID': '2189', 'Assigned Team': 'Billing Support', 'Assigned Admin Name': 'Marta Rossi' },
    });
  });
});

describe('mapNotification: identification of the event profile', () => {
  it('contact unknown to the directory → pending with the contact id', () => {
    expect(
      mapNotification(inputFor('conversation.user.created.json'), fixtureLookups({ withoutContacts: true })),
    ).toEqual({
      kind: 'pending',
      reason: `contact ${ADA} unknown to directory`,
      contactId: ADA,
    });
  });

  it('contact with no email and no E.164-able phone → pending', () => {
    const n = inputFor(
      'ticket.created.json',
      'webhook',
      (item) => (item.contacts.contacts = [{ type: 'contact', id: BOB }]),
    );
    expect(mapNotification(n, fixtureLookups())).toEqual({
      kind: 'pending',
      reason: `contact ${BOB} has no email and no E.164 phone`,
      contactId: BOB,
    });
  });

  it('the same contact becomes identifiable with a default phone region', () => {
    const n = inputFor(
      'ticket.created.json',
      'webhook',
      (item) => (item.contacts.contacts = [{ type: 'contact', id: BOB }]),
    );
    const outcome = mapNotification(n, fixtureLookups(), { defaultPhoneRegion: 'AU' });
    expect(records(outcome)[0]).toMatchObject({
      profile: { phone_number: '+61412345678' },
      properties: { phone_number: '+61412345678' },
    });
    expect((records(outcome)[0] as KlaviyoEventRecord).profile).toEqual({ phone_number: '+61412345678' });
  });

  it('a phone that is not E.164-able is omitted and noted, the email still identifies', () => {
    const n = inputFor(
      'ticket.created.json',
      'webhook',
      (item) => (item.contacts.contacts = [{ type: 'contact', id: LIN }]),
    );
    const outcome = mapNotification(n, fixtureLookups());
    expect(outcome).toMatchObject({ kind: 'records', notes: ['phone_not_e164'] });
    expect((records(outcome)[0] as KlaviyoEventRecord).profile).toEqual({ email: 'lin@example.net' });
    expect((records(outcome)[0] as KlaviyoEventRecord).properties).not.toHaveProperty('phone_number');
  });

  it('no contact reference at all → pending', () => {
    const n = inputFor('ticket.created.json', 'webhook', (item) => delete item.contacts);
    expect(mapNotification(n, fixtureLookups())).toEqual({
      kind: 'pending',
      reason: 'no contact reference in payload',
    });
  });

  it('a tombstoned contact is skipped', () => {
    expect(mapNotification(inputFor('conversation.read.json'), fixtureLookups({ deletedContactIds: [ADA] }))).toEqual({
      kind: 'skip',
      reason: `contact ${ADA} deleted`,
    });
  });
});

describe('mapNotification: profiles and deletions', () => {
  const lookups = fixtureLookups();
  const adaProperties = {
    'Intercom Contact ID': ADA,
    'Contact Role': 'user',
    Intercom_has_hard_bounced: false,
    Intercom_marked_email_as_spam: false,
    Intercom_unsubscribed_from_emails: false,
    Intercom_opted_in_subscription_types_count: 2,
    Intercom_custom_attributes: { plan: 'pro', seats: 12 },
  };
  const adaProfile = {
    kind: 'profile',
    intercom_contact_id: ADA,
    email: 'ada@example.com',
    phone_number: '+447911123456',
    first_name: 'Ada',
    last_name: 'Lovelace',
    image: 'https://static.intercomassets.com/avatars/6571/square_128/ada.png',
    location: { city: 'London', country: 'United Kingdom', region: 'England' },
    updated_at: 1763900000,
    backfill: false,
  };

  it('contact.user.created → profile upsert', () => {
    expect(mapNotification(inputFor('contact.user.created.json'), lookups)).toEqual({
      kind: 'records',
      notes: [],
      records: [
        {
          ...adaProfile,
          properties: { ...adaProperties, Intercom_tags: ['VIP', 'Churn risk'] },
          source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000001',
        },
      ],
    });
  });

  it('contact.unsubscribed carrying a Subscription with its contact → profile from that contact (not "not a contact")', () => {
    expect(mapNotification(inputFor('contact.unsubscribed.json'), lookups)).toEqual({
      kind: 'records',
      notes: [],
      records: [
        {
          ...adaProfile,
          updated_at: 1763900500,
          properties: {
            ...adaProperties,
            Intercom_unsubscribed_from_emails: true,
            Intercom_tags: ['VIP', 'Churn risk'],
          },
          source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000050',
        },
      ],
    });
  });

  it('contact.subscribed carrying the Contact itself → profile', () => {
    expect(records(mapNotification(inputFor('contact.subscribed.contact.json'), lookups))).toEqual([
      {
        ...adaProfile,
        updated_at: 1763900560,
        properties: { ...adaProperties, Intercom_tags: ['VIP', 'Churn risk'] },
        source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000052',
      },
    ]);
  });

  it('a Subscription that names no contact is skipped with the reason, never dead-lettered', () => {
    expect(mapNotification(inputFor('contact.unsubscribed.no_contact.json'), lookups)).toEqual({
      kind: 'skip',
      reason: 'contact.unsubscribed: subscription item names no contact',
    });
  });

  it('contact.user.updated → profile; name split at the first space; empty location and avatar omitted', () => {
    expect(records(mapNotification(inputFor('contact.user.updated.json'), lookups))).toEqual([
      {
        kind: 'profile',
        intercom_contact_id: GRACE,
        email: 'grace@example.org',
        first_name: 'Grace',
        last_name: 'Brewster Hopper',
        properties: {
          'Intercom Contact ID': GRACE,
          'Contact Role': 'user',
          Intercom_has_hard_bounced: false,
          Intercom_marked_email_as_spam: false,
          Intercom_unsubscribed_from_emails: true,
          Intercom_opted_in_subscription_types_count: 0,
          Intercom_custom_attributes: {},
          Intercom_tags: [],
        },
        updated_at: 1763900000,
        backfill: false,
        source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000003',
      },
    ]);
  });

  it('contact.user.tag.created → profile with the new tag name from the notification', () => {
    expect(records(mapNotification(inputFor('contact.user.tag.created.json'), lookups))).toEqual([
      {
        ...adaProfile,
        properties: { ...adaProperties, Intercom_tags: ['VIP', 'Churn risk', 'Beta tester'] },
        source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000004',
      },
    ]);
  });

  it('contact.user.tag.deleted → profile without the removed tag', () => {
    expect(records(mapNotification(inputFor('contact.user.tag.deleted.json'), lookups))).toEqual([
      {
        ...adaProfile,
        properties: { ...adaProperties, Intercom_tags: ['VIP'] },
        source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000005',
      },
    ]);
  });

  it('a tag notification with a bare contact reference is completed from the directory', () => {
    const n = inputFor(
      'contact.user.tag.created.json',
      'webhook',
      (item) => (item.contact = { type: 'contact', id: ADA }),
    );
    expect(records(mapNotification(n, lookups))).toEqual([
      // The directory's Ada has tags 17 and 42; the notification adds 88.
      {
        ...adaProfile,
        properties: { ...adaProperties, Intercom_tags: ['VIP', 'Churn risk', 'Beta tester'] },
        source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000004',
      },
    ]);
    expect(mapNotification(n, fixtureLookups({ withoutContacts: true }))).toEqual({
      kind: 'pending',
      reason: `contact ${ADA} unknown to directory`,
      contactId: ADA,
    });
  });

  it('contact.lead.created without email nor E.164-able phone → skipped (Klaviyo needs an identifier)', () => {
    expect(mapNotification(inputFor('contact.lead.created.json'), lookups)).toEqual({
      kind: 'skip',
      reason: `contact ${BOB} has no email and no E.164 phone`,
    });
  });

  it('contact.lead.created with a default region → profile with E.164 phone, no opted-in count when subscriptions are unknown', () => {
    expect(
      mapNotification(inputFor('contact.lead.created.json', 'backfill'), lookups, { defaultPhoneRegion: 'AU' }),
    ).toEqual({
      kind: 'records',
      notes: [],
      records: [
        {
          kind: 'profile',
          intercom_contact_id: BOB,
          phone_number: '+61412345678',
          first_name: 'Bob',
          location: { city: 'Sydney', country: 'Australia' },
          properties: {
            'Intercom Contact ID': BOB,
            'Contact Role': 'lead',
            Intercom_has_hard_bounced: false,
            Intercom_marked_email_as_spam: false,
            Intercom_unsubscribed_from_emails: false,
            Intercom_custom_attributes: {},
            Intercom_tags: [],
          },
          updated_at: 1763900000,
          backfill: true,
          source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000002',
        },
      ],
    });
  });

  it('profile upserts for a tombstoned contact are skipped', () => {
    expect(
      mapNotification(inputFor('contact.user.created.json'), fixtureLookups({ deletedContactIds: [ADA] })),
    ).toEqual({ kind: 'skip', reason: `contact ${ADA} deleted` });
  });

  it('contact.deleted → deletion request with email and phone from the directory', () => {
    expect(mapNotification(inputFor('contact.deleted.json'), lookups)).toEqual({
      kind: 'records',
      notes: [],
      records: [
        {
          kind: 'deletion',
          intercom_contact_id: ADA,
          email: 'ada@example.com',
          phone_number: '+447911123456',
          requested_at: 1763900006000,
          source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000006',
        },
      ],
    });
  });

  it('contact.deleted of a contact nobody knows → pending', () => {
    expect(mapNotification(inputFor('contact.deleted.json'), fixtureLookups({ withoutContacts: true }))).toEqual({
      kind: 'pending',
      reason: `contact.deleted: contact ${ADA} has no known email or E.164 phone`,
      contactId: ADA,
    });
  });

  it('contact.archived is skipped unless deleteOnArchive', () => {
    expect(mapNotification(inputFor('contact.archived.json'), lookups)).toEqual({
      kind: 'skip',
      reason: 'contact.archived: deleteOnArchive is off',
    });
    expect(records(mapNotification(inputFor('contact.archived.json'), lookups, { deleteOnArchive: true }))).toEqual([
      {
        kind: 'deletion',
        intercom_contact_id: GRACE,
        email: 'grace@example.org',
        requested_at: 1763900007000,
        source_notification_id: 'notif_0a1b2c3d-3333-4e5f-8a9b-000000000007',
      },
    ]);
  });
});

describe('mapNotification: topics, options, envelope', () => {
  const lookups = fixtureLookups();

  it('an unknown topic is skipped with its name', () => {
    expect(mapNotification(inputFor('company.created.json'), lookups)).toEqual({
      kind: 'skip',
      reason: 'unmapped topic company.created',
    });
    const n = { ...inputFor('company.created.json'), topic: 'constructor' };
    expect(mapNotification(n, lookups)).toEqual({ kind: 'skip', reason: 'unmapped topic constructor' });
  });

  it('backfilled events are flagged', () => {
    expect(records(mapNotification(inputFor('conversation.user.created.json', 'backfill'), lookups))[0]).toMatchObject({
      backfill: true,
    });
  });

  it('metric names can be renamed', () => {
    const outcome = mapNotification(inputFor('ticket.resolved.json'), lookups, {
      metricNames: { ticketResolved: 'Intercom Ticket Resolved' },
    });
    expect(records(outcome)[0]).toMatchObject({
      metric: 'Intercom Ticket Resolved',
      unique_id: 'intercom:ticket:2189:state:resolved:1764086400',
    });
  });

  it('accepts the body as a JSON string', () => {
    const n = inputFor('conversation.user.created.json');
    expect(mapNotification({ ...n, body: JSON.stringify(n.body) }, lookups)).toEqual(mapNotification(n, lookups));
  });

  it('accepts a bare Intercom object as the body (no envelope)', () => {
    const n = inputFor('conversation.user.created.json');
    expect(mapNotification({ ...n, body: (n.body as { data: { item: unknown } }).data.item }, lookups)).toEqual(
      mapNotification(n, lookups),
    );
  });

  it.each([
    ['no data', {}],
    ['null item', { data: { type: 'notification_event_data', item: null } }],
    ['item is a string', { data: { item: 'conversation' } }],
    ['not JSON', '{oops'],
  ])('a body with %s is a MappingError (not retriable)', (_label, body) => {
    const n = { ...inputFor('conversation.user.created.json'), body };
    expect(() => mapNotification(n, lookups)).toThrow(MappingError);
    try {
      mapNotification(n, lookups);
    } catch (err) {
      expect((err as MappingError).retriable).toBe(false);
    }
  });

  it('a payload of the pre-2.0 API (item.user, no item.contacts) is a MappingError at once, naming the fix', () => {
    const n = inputFor('conversation.user.created.legacy_1_x.json');
    expect(() => mapNotification(n, lookups)).toThrow(MappingError);
    expect(() => mapNotification(n, lookups)).toThrow(
      /pre-2\.0 API shape .*set the Intercom app's API version to 2\.x/,
    );
    // the 2.x payload of the same conversation is mapped
    expect(records(mapNotification(inputFor('conversation.user.created.json'), lookups))).toHaveLength(1);
  });

  it('an item of the wrong type for the topic is a MappingError', () => {
    const n = { ...inputFor('ticket.created.json'), topic: 'conversation.user.created' };
    expect(() => mapNotification(n, lookups)).toThrow(/expected a conversation/);
  });

  it('fixture directory files are the ones the tests assume', () => {
    expect((loadJson('contacts.json') as Array<{ id: string }>).map((c) => c.id)).toEqual([ADA, BOB, GRACE, LIN]);
  });
});
