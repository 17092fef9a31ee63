/**
 * The three apps together, in-process, against the real broker and registry: signed Intercom
 * webhooks in, the Klaviyo emulator's account checked out, property by property against
 * docs/MAPPING.md. Expected values come from the Intercom objects built here.
 */
import { eventFromAvro, notificationFromAvro, topicName, AvroCodec, createKafka } from '@iks/kafka';
import { deriveNotifications } from '@iks/backfill';
import type { IntercomContact, IntercomConversation, IntercomTicket } from '@iks/intercom';
import {
  contactDeletedNotification,
  contactNotification,
  conversationLifecycle,
  makeAdmin,
  makeContact,
  makeSubscriptionType,
  makeTag,
  makeTeam,
  makeTicketType,
  makeTicket,
  contactTagNotification,
  ticketNotification,
  ticketLifecycle,
  unknownTopicNotification,
  makeCompany,
  conversationNotification,
  makeConversation,
  createRng,
  type Dataset,
  type IntercomNotification,
} from '../../tools/intercom-emulator/src';
import type { StoredEvent } from '../../tools/klaviyo-emulator/src';
import { TopicTap } from '../support/raw-topic';
import { waitFor } from '../support/wait-for';
import { runErase } from '../../apps/cli/src/commands/erase.command';
import { Pipeline } from './pipeline-harness';
import {
  conversationProperties,
  iso,
  ISO_SECONDS,
  ticketProperties,
  ticketResolvedProperties,
} from './support/expected';

const NOW = Math.floor(Date.now() / 1000);
const T0 = NOW - 3 * 86400; // the conversation and the ticket started three days ago
const APP_ID = 'e2eapp01';

const admin = makeAdmin({ id: '991260101', name: 'Margaret Hamilton', email: 'margaret.hamilton@support.example.com' });
const otherAdmin = makeAdmin({ id: '991260102', name: 'Ken Thompson', email: 'ken@support.example.com' });
const team = makeTeam({ id: '5017801', name: 'Escalations', adminIds: [Number(admin.id)] });
const otherTeam = makeTeam({ id: '5017802', name: 'Billing', adminIds: [] });
const vip = makeTag({ id: '301', name: 'vip' });
const beta = makeTag({ id: '302', name: 'beta' });
const newsletters = makeSubscriptionType({ id: '91', name: 'Newsletters', consentType: 'opt_out' });
const productUpdates = makeSubscriptionType({ id: '92', name: 'Product updates', consentType: 'opt_in' });
const ticketType = makeTicketType({ id: '100', name: 'Bug report', category: 'Customer' });

/** A user with an E.164-able phone (national spacing), tags, custom attributes. */
const ada: IntercomContact = makeContact({
  id: '6762f0d0aaaa000000000001',
  role: 'user',
  email: 'ada.lovelace@example.com',
  phone: '+44 20 7946 0958',
  name: 'Ada Lovelace',
  location: { country: 'United Kingdom', region: 'England', city: 'London' },
  tags: [vip, beta],
  customAttributes: { plan: 'pro', seats: 12 },
  createdAt: T0 - 86400,
  updatedAt: T0 - 86400,
});
const ADA_PHONE = '+442079460958';
/** A lead whose phone no one can make E.164 (it must be omitted everywhere), a three-word name. */
const grace: IntercomContact = makeContact({
  id: '6762f0d0aaaa000000000002',
  role: 'lead',
  email: 'grace.hopper@example.org',
  phone: 'call me maybe',
  name: 'Grace Brewster Hopper',
  location: { country: 'United States', region: 'Virginia', city: 'Arlington' },
  tags: [],
  customAttributes: { source: 'ads' },
  createdAt: T0 - 86400,
  updatedAt: T0 - 86400,
  hasHardBounced: true,
  unsubscribedFromEmails: true,
});
/** Someone who gets deleted. */
const linus: IntercomContact = makeContact({
  id: '6762f0d0aaaa000000000003',
  role: 'user',
  email: 'linus@example.net',
  phone: '+14155550123',
  name: 'Linus',
  createdAt: T0 - 86400,
  updatedAt: T0 - 86400,
});

const dataset: Dataset = {
  appId: APP_ID,
  admins: [admin, otherAdmin],
  teams: [team, otherTeam],
  tags: [vip, beta],
  subscriptionTypes: [newsletters, productUpdates],
  ticketTypes: [ticketType],
  contacts: [ada, grace, linus],
  contactSubscriptions: { [ada.id]: [newsletters, productUpdates], [grace.id]: [newsletters], [linus.id]: [] },
  conversations: [],
  tickets: [],
};
const directory = { admins: dataset.admins, teams: dataset.teams };

// A conversation of Ada: created → user replied → read → rated (4), with tags, priority, custom attributes, a snooze.
const conversation = conversationLifecycle({
  contact: ada,
  admin,
  team,
  startAt: T0,
  appId: APP_ID,
  id: '424242',
  rating: 4,
  remark: 'ok',
});
for (const n of conversation) {
  n.data.item.tags = {
    type: 'tag.list',
    tags: [vip, beta].map((t) => ({ type: 'tag', id: t.id, name: t.name, applied_at: T0 })),
  } as never;
  n.data.item.priority = 'priority';
  n.data.item.custom_attributes = { issue_type: 'export', order_value: 120 };
}
conversation[1].data.item.snoozed_until = T0 + 86400;
const [convCreated, convReplied, convRead, convRated] = conversation;

// A ticket of Grace: created → submitted → waiting → contact replied → resolved (state.updated + ticket.resolved).
const ticket = ticketLifecycle({
  contact: grace,
  admin,
  team,
  startAt: T0 + 100,
  appId: APP_ID,
  id: '7007',
  ticketType,
  title: 'Export fails',
  description: 'CSV export times out',
  isShared: true,
});
const [tkCreated, tkSubmitted, tkWaiting, tkReplied, , tkResolved] = ticket;

const contactPart = (parts: Array<{ id: string; created_at: number; author: { type: string } }>) =>
  [...parts].reverse().find((p) => p.author.type === 'user' || p.author.type === 'lead')!;
const statePart = (t: IntercomTicket, category: string) =>
  [...t.ticket_parts.ticket_parts]
    .reverse()
    .find((p) => p.ticket_state === category && p.previous_ticket_state !== category)!;

const conv = (n: IntercomNotification<IntercomConversation>) => n.data.item;
const tick = (n: IntercomNotification<IntercomTicket>) => n.data.item;
const replyPart = contactPart(conv(convReplied).conversation_parts!.conversation_parts);
const ticketReplyPart = contactPart(tick(tkReplied).ticket_parts.ticket_parts as never);

/** Every expected event: metric, unique_id (MAPPING "unique_id and time"), time, identifiers, properties. */
const expected = [
  {
    metric: 'Conversation Created',
    unique_id: `intercom:conversation:424242:created`,
    time: iso(T0),
    who: ada,
    phone: ADA_PHONE,
    props: conversationProperties(conv(convCreated), ada, ADA_PHONE, directory),
  },
  {
    metric: 'Replied to Conversation',
    unique_id: `intercom:conversation:424242:part:${replyPart.id}`,
    time: iso(replyPart.created_at),
    who: ada,
    phone: ADA_PHONE,
    props: conversationProperties(conv(convReplied), ada, ADA_PHONE, directory),
  },
  {
    metric: 'Read Conversation',
    unique_id: `intercom:conversation:424242:read:${convRead.id}`,
    time: iso(convRead.created_at),
    who: ada,
    phone: ADA_PHONE,
    props: conversationProperties(conv(convRead), ada, ADA_PHONE, directory),
  },
  {
    metric: 'Conversation Rated',
    unique_id: `intercom:conversation:424242:rated:${conv(convRated).conversation_rating!.created_at}`,
    time: iso(conv(convRated).conversation_rating!.created_at),
    who: ada,
    phone: ADA_PHONE,
    props: conversationProperties(conv(convRated), ada, ADA_PHONE, directory),
  },
  {
    metric: 'Ticket Created',
    unique_id: 'intercom:ticket:7007:created',
    time: iso(tick(tkCreated).created_at),
    who: grace,
    phone: undefined,
    props: ticketProperties(tick(tkCreated), grace, undefined, directory),
  },
  {
    metric: 'Ticket Submitted',
    unique_id: `intercom:ticket:7007:state:submitted:${statePart(tick(tkSubmitted), 'submitted').created_at}`,
    time: iso(statePart(tick(tkSubmitted), 'submitted').created_at),
    who: grace,
    phone: undefined,
    props: ticketProperties(tick(tkSubmitted), grace, undefined, directory),
  },
  {
    metric: 'Ticket Marked as Waiting',
    unique_id: `intercom:ticket:7007:state:waiting_on_customer:${statePart(tick(tkWaiting), 'waiting_on_customer').created_at}`,
    time: iso(statePart(tick(tkWaiting), 'waiting_on_customer').created_at),
    who: grace,
    phone: undefined,
    props: ticketProperties(tick(tkWaiting), grace, undefined, directory),
  },
  {
    metric: 'Replied to Ticket',
    unique_id: `intercom:ticket:7007:part:${ticketReplyPart.id}`,
    time: iso(ticketReplyPart.created_at),
    who: grace,
    phone: undefined,
    props: ticketProperties(tick(tkReplied), grace, undefined, directory),
  },
  {
    metric: 'Ticket Resolved',
    unique_id: `intercom:ticket:7007:state:resolved:${statePart(tick(tkResolved), 'resolved').created_at}`,
    time: iso(statePart(tick(tkResolved), 'resolved').created_at),
    who: grace,
    phone: undefined,
    props: ticketResolvedProperties(tick(tkResolved), grace, undefined, directory),
  },
];

describe('e2e: Intercom webhooks → ingest → Kafka → transformer → sink → Klaviyo', () => {
  let pipeline: Pipeline;
  /** Everything the transformer writes to klaviyo.events.v1 (what the sink sends, before Klaviyo normalises it). */
  let eventsTap: TopicTap;
  const eventRecords = () => eventsTap.of(topicName('events', pipeline.prefix)).map((r) => eventFromAvro(r.value));

  beforeAll(async () => {
    pipeline = await Pipeline.start({ dataset });
    const codec = new AvroCodec(pipeline.configs.ingest.kafka);
    eventsTap = new TopicTap(createKafka(pipeline.configs.ingest.kafka), codec, `${pipeline.prefix}e2e-tap-events`);
    await eventsTap.start([topicName('events', pipeline.prefix)]);
  }, 90_000);
  afterAll(async () => {
    await eventsTap?.stop().catch(() => undefined);
    await pipeline?.stop();
  }, 60_000);

  it('delivers all nine metrics with the unique_id, time, identifiers and properties MAPPING.md gives', async () => {
    await pipeline.deliver([
      contactNotification('contact.user.created', ada, { appId: APP_ID, createdAt: ada.created_at }),
      contactNotification('contact.lead.created', grace, { appId: APP_ID, createdAt: grace.created_at }),
    ]);
    // a topic without a metric in between: acknowledged (200), no Klaviyo event
    await pipeline.deliver([
      ...conversation,
      unknownTopicNotification(makeCompany({ id: 'comp0001', name: 'Initech' }), 'company.created', { appId: APP_ID }),
      ...ticket,
    ]);
    await pipeline.waitForUniqueIds(expected.map((e) => e.unique_id));
    await pipeline.quiesce();

    // each of the nine metrics once (the two resolve topics for one resolution: ONE Ticket Resolved)
    const counts = Object.fromEntries(pipeline.klaviyo.store.metrics().map((m) => [m.name, m.count]));
    expect(counts).toEqual({
      'Conversation Created': 1,
      'Replied to Conversation': 1,
      'Read Conversation': 1,
      'Conversation Rated': 1,
      'Ticket Created': 1,
      'Ticket Submitted': 1,
      'Ticket Marked as Waiting': 1,
      'Replied to Ticket': 1,
      'Ticket Resolved': 1,
    });
    expect(pipeline.events()).toHaveLength(9);

    for (const want of expected) {
      const [got, ...more] = pipeline.events(want.metric);
      expect(more).toHaveLength(0);
      const label = `${want.metric}`;
      expect({ label, unique_id: got.unique_id }).toEqual({ label, unique_id: want.unique_id });
      // Klaviyo stores the time with milliseconds; the wire format is checked on the records below
      expect({ label, time: got.time }).toEqual({ label, time: want.time.replace(/Z$/, '.000Z') });
      expect({ label, email: got.profile.email, phone: got.profile.phone_number }).toEqual({
        label,
        email: want.who.email,
        phone: want.phone ?? null,
      });
      expect({ label, properties: got.properties }).toEqual({ label, properties: want.props });
      expect(got.uniqueIdDefaulted).toBe(false);
    }

    // what the sink sends: time as YYYY-MM-DDTHH:MM:SSZ, the same unique_id
    const records = await waitFor(() => eventRecords().length >= 10 && eventRecords(), { what: 'the event records' });
    for (const want of expected) {
      const sent = records.filter((r) => r.metric === want.metric);
      expect(sent.length).toBeGreaterThanOrEqual(1);
      for (const r of sent)
        expect({ m: want.metric, time: r.time, unique_id: r.unique_id }).toEqual({
          m: want.metric,
          time: want.time,
          unique_id: want.unique_id,
        });
      for (const r of sent) expect(r.time).toMatch(ISO_SECONDS);
    }

    // both resolve topics were mapped, to the same unique_id (so Klaviyo keeps one)
    const resolvedSent = records.filter(
      (r) => r.metric === 'Ticket Resolved' && !r.source_notification_id.startsWith('backfill:'),
    );
    expect(resolvedSent.map((r) => r.source_topic).sort()).toEqual(['ticket.resolved', 'ticket.state.updated']);
    expect(new Set(resolvedSent.map((r) => r.unique_id)).size).toBe(1);

    // spot checks written out by hand (names through GET /admins and /teams, tag names, numbers)
    const rated = pipeline.events('Conversation Rated')[0].properties;
    expect(rated).toMatchObject({
      'Assigned Team': 'Escalations',
      'Assigned Admin Name': 'Margaret Hamilton',
      'Assigned Admin Email': 'margaret.hamilton@support.example.com',
      Tags: ['vip', 'beta'],
      'Conversation Rating': 4,
      Priority: 'priority',
      'Conversation ID': '424242',
      Title: 'Cannot export my data',
      'Custom Attributes': { issue_type: 'export', order_value: 120 },
      email: 'ada.lovelace@example.com',
      phone_number: '+442079460958',
    });
    expect(rated).not.toHaveProperty('Waiting Since'); // closed: waiting_since is null
    expect(pipeline.events('Replied to Conversation')[0].properties).toMatchObject({
      'Snoozed Until': iso(T0 + 86400),
      'Waiting Since': iso(T0 + 900),
    });
    expect(pipeline.events('Conversation Created')[0].properties).not.toHaveProperty('Conversation Rating');
    const resolved = pipeline.events('Ticket Resolved')[0].properties;
    expect(resolved).toEqual({
      'Contact Email': 'grace.hopper@example.org',
      Category: 'Customer',
      'Team Name': 'Escalations',
      'Admin Name': 'Margaret Hamilton',
      'Admin Email': 'margaret.hamilton@support.example.com',
      'Ticket ID': '7007',
      'Ticket Name': 'Export fails',
      'Ticket Description': 'CSV export times out',
      'Is Shared': true,
    });
    const created = pipeline.events('Ticket Created')[0];
    expect(created.properties).toMatchObject({
      'Ticket Type': 'Bug report',
      Shared: true,
      'Ticket Parts Count': 1,
      'Assigned Team': 'Escalations',
    });
    expect(created.properties).not.toHaveProperty('phone_number'); // 'call me maybe' is not E.164-able
    expect(created.profile.phone_number).toBeNull();
    expect(pipeline.events('Ticket Resolved')[0].unique_id).toBe(
      `intercom:ticket:7007:state:resolved:${T0 + 100 + 7200}`,
    );
  });

  it('upserts the contacts as Klaviyo profiles; contact.deleted → a deletion request and the profile gone', async () => {
    const a = await waitFor(() => pipeline.klaviyo.store.findProfile({ email: ada.email }), { what: "Ada's profile" });
    expect(a.email).toBe('ada.lovelace@example.com');
    expect(a.phone_number).toBe(ADA_PHONE);
    expect(a.attributes).toMatchObject({
      first_name: 'Ada',
      last_name: 'Lovelace',
      image: ada.avatar!.image_url,
      location: { city: 'London', country: 'United Kingdom', region: 'England' },
    });
    expect(a.properties).toMatchObject({
      'Intercom Contact ID': ada.id,
      'Contact Role': 'user',
      Intercom_has_hard_bounced: false,
      Intercom_marked_email_as_spam: false,
      Intercom_unsubscribed_from_emails: false,
      Intercom_opted_in_subscription_types_count: 1,
      Intercom_custom_attributes: { plan: 'pro', seats: 12 },
    });
    expect([...(a.properties.Intercom_tags as string[])].sort()).toEqual(['beta', 'vip']);

    const g = await waitFor(() => pipeline.klaviyo.store.findProfile({ email: grace.email }), {
      what: "Grace's profile",
    });
    expect(g.phone_number).toBeNull(); // not E.164-able: omitted, never sent raw
    expect(g.attributes).toMatchObject({
      first_name: 'Grace',
      last_name: 'Brewster Hopper',
      location: { city: 'Arlington', country: 'United States', region: 'Virginia' },
    });
    expect(g.properties).toMatchObject({
      'Intercom Contact ID': grace.id,
      'Contact Role': 'lead',
      Intercom_has_hard_bounced: true,
      Intercom_unsubscribed_from_emails: true,
      Intercom_opted_in_subscription_types_count: 0,
      Intercom_custom_attributes: { source: 'ads' },
    });

    await pipeline.deliver([
      contactNotification('contact.user.created', linus, { appId: APP_ID, createdAt: linus.created_at }),
    ]);
    const l = await waitFor(() => pipeline.klaviyo.store.findProfile({ email: linus.email }), {
      what: "Linus' profile",
    });
    expect(l.phone_number).toBe('+14155550123');
    expect(l.attributes.first_name).toBe('Linus');
    expect(l.attributes).not.toHaveProperty('last_name');

    const eventsBefore = pipeline.events().length;
    await pipeline.deliver([contactDeletedNotification(linus, { appId: APP_ID, createdAt: NOW })]);
    const deletion = await waitFor(
      () =>
        pipeline.klaviyo.store.deletions.find(
          (d) => d.identifier.email === linus.email || d.identifier.phone_number === '+14155550123',
        ),
      {
        what: 'the deletion request for Linus',
        timeoutMs: 30_000,
      },
    );
    expect(deletion.identifier.email ?? deletion.identifier.phone_number).toBeTruthy();
    expect(deletion.deletedProfileIds).toEqual([l.id]);
    expect(pipeline.klaviyo.store.findProfile({ email: linus.email })).toBeUndefined();
    expect(pipeline.klaviyo.store.findProfile({ phone_number: '+14155550123' })).toBeUndefined();
    // the others are untouched
    expect(pipeline.klaviyo.store.findProfile({ email: ada.email })).toBeDefined();
    expect(pipeline.events()).toHaveLength(eventsBefore);
  });

  it('a contact known only by phone, a conversation with nothing assigned: identified by phone, missing sources omitted', async () => {
    const katherine = makeContact({
      id: '6762f0d0aaaa000000000004',
      role: 'lead',
      email: null,
      phone: '+1 415 555 0199',
      name: 'Katherine Johnson',
      createdAt: T0 - 86400,
      updatedAt: T0 - 86400,
    });
    pipeline.intercom.upsertContact(katherine);
    const bare = makeConversation(
      {
        id: '434343',
        contact: katherine,
        admin: null,
        team: null,
        createdAt: T0 + 50,
        title: null,
        slaStatus: null,
        sourceType: 'email',
        deliveredAs: 'customer_initiated',
      },
      createRng(9),
    );
    bare.custom_attributes = {};
    await pipeline.deliver([
      contactNotification('contact.lead.created', katherine, { appId: APP_ID, createdAt: katherine.created_at }),
      conversationNotification('conversation.user.created', bare, { appId: APP_ID, createdAt: T0 + 50 }),
    ]);
    await pipeline.waitForUniqueIds(['intercom:conversation:434343:created']);
    const [got, ...more] = pipeline.eventsWithUniqueId('intercom:conversation:434343:created');
    expect(more).toHaveLength(0);
    expect(got.metric).toBe('Conversation Created');
    expect(got.profile).toMatchObject({ email: null, phone_number: '+14155550199' });
    expect(got.time).toBe(iso(T0 + 50).replace(/Z$/, '.000Z'));
    for (const key of [
      'email',
      'Title',
      'Assigned Team',
      'Assigned Admin Name',
      'Assigned Admin Email',
      'SLA Status',
      'Conversation Rating',
      'Snoozed Until',
      'Waiting Since',
    ]) {
      expect({ key, present: key in got.properties }).toEqual({ key, present: false });
    }
    for (const [k, v] of Object.entries(got.properties)) expect({ k, v }).not.toEqual({ k, v: null });
    expect(got.properties).toMatchObject({
      phone_number: '+14155550199',
      'Conversation Source': 'email',
      'Conversation ID': '434343',
      Priority: 'not_priority',
    });
    const profile = await waitFor(() => pipeline.klaviyo.store.findProfile({ phone_number: '+14155550199' }), {
      what: "Katherine's profile",
    });
    expect(profile.email).toBeNull();
    expect(profile.properties['Intercom Contact ID']).toBe(katherine.id);
  });

  it('a contact the pipeline never heard of is fetched from Intercom (GET /contacts/{id}); an unassigned 2.11-shaped ticket maps too', async () => {
    // only in Intercom: no contact.* webhook for Dennis
    const dennis = makeContact({
      id: '6762f0d0aaaa000000000005',
      role: 'user',
      email: 'dennis.ritchie@example.com',
      phone: '+1 (415) 555-0142',
      name: 'Dennis MacAlistair Ritchie',
      location: { country: 'United States', region: 'New Jersey', city: 'Murray Hill' },
      tags: [beta],
      createdAt: T0 - 86400,
      updatedAt: T0 - 86400,
    });
    pipeline.intercom.upsertContact(dennis);
    const t = makeTicket(
      {
        id: '8008',
        contact: dennis,
        admin: null,
        team: null,
        ticketType,
        createdAt: T0 + 200,
        title: 'Refund',
        description: null,
        isShared: false,
      },
      createRng(12),
    );
    // API 2.11: ticket_state is a string beside ticket_state_internal_label
    const t211 = {
      ...structuredClone(t),
      ticket_state: 'submitted',
      ticket_state_internal_label: 'Submitted',
    } as unknown as IntercomTicket;
    await pipeline.deliver([ticketNotification('ticket.created', t211, { appId: APP_ID, createdAt: T0 + 200 })]);
    await pipeline.waitForUniqueIds(['intercom:ticket:8008:created']);
    const [got] = pipeline.eventsWithUniqueId('intercom:ticket:8008:created');
    expect(got.metric).toBe('Ticket Created');
    expect(got.profile).toMatchObject({ email: 'dennis.ritchie@example.com', phone_number: '+14155550142' });
    // admin '0' / team '0' (unassigned), no description: keys omitted
    expect(got.properties).toEqual({
      email: 'dennis.ritchie@example.com',
      phone_number: '+14155550142',
      Category: 'Customer',
      'Ticket Parts Count': 0,
      'Ticket ID': '8008',
      'Ticket Type': 'Bug report',
      'Ticket Name': 'Refund',
      Shared: false,
    });
    expect(
      pipeline.intercom.requests.some(
        (r) => r.method === 'GET' && r.path === `/contacts/${dennis.id}` && r.status === 200,
      ),
    ).toBe(true);
    // "every contact fetched for the directory" upserts the profile
    const profile = await waitFor(() => pipeline.klaviyo.store.findProfile({ email: dennis.email }), {
      what: "Dennis' profile",
      timeoutMs: 20_000,
    });
    expect(profile.phone_number).toBe('+14155550142');
    expect(profile.attributes).toMatchObject({
      first_name: 'Dennis',
      last_name: 'MacAlistair Ritchie',
      location: { city: 'Murray Hill', country: 'United States', region: 'New Jersey' },
    });
    expect(profile.properties).toMatchObject({
      'Intercom Contact ID': dennis.id,
      'Contact Role': 'user',
      Intercom_tags: ['beta'],
    });
  });

  it("contact tag webhooks update the profile's Intercom_tags (names from the notification)", async () => {
    const enterprise = makeTag({ id: '399', name: 'enterprise' }); // not in GET /tags: the name comes from the notification
    const tagged = { ...structuredClone(ada), updated_at: NOW - 600 };
    tagged.tags!.data.push({ id: enterprise.id, url: `https://api.intercom.io/tags/${enterprise.id}` } as never);
    await pipeline.deliver([
      contactTagNotification('contact.user.tag.created', tagged, enterprise, { appId: APP_ID, taggedAt: NOW - 600 }),
    ]);
    await waitFor(
      () =>
        (
          pipeline.klaviyo.store.findProfile({ email: ada.email })?.properties.Intercom_tags as string[] | undefined
        )?.includes('enterprise'),
      {
        what: "'enterprise' in Ada's Intercom_tags",
        timeoutMs: 20_000,
      },
    );
    const untagged = { ...structuredClone(tagged), updated_at: NOW - 300 };
    untagged.tags!.data = untagged.tags!.data.filter((t) => t.id !== vip.id);
    await pipeline.deliver([
      contactTagNotification('contact.user.tag.deleted', untagged, vip, { appId: APP_ID, taggedAt: NOW - 300 }),
    ]);
    await waitFor(
      () =>
        !(pipeline.klaviyo.store.findProfile({ email: ada.email })?.properties.Intercom_tags as string[]).includes(
          'vip',
        ),
      {
        what: "'vip' gone from Ada's Intercom_tags",
        timeoutMs: 20_000,
      },
    );
    expect(
      [...(pipeline.klaviyo.store.findProfile({ email: ada.email })!.properties.Intercom_tags as string[])].sort(),
    ).toEqual(['beta', 'enterprise']);
  });

  it("fallbacks of MAPPING.md: a reply without the contact's part, a state change without its part", async () => {
    // conversation.user.replied whose payload carries no part by the contact: id and time of the notification
    const noParts = makeConversation(
      { id: '454545', contact: ada, admin, team, createdAt: T0 + 300, title: 'no parts' },
      createRng(21),
    );
    const reply = conversationNotification('conversation.user.replied', noParts, {
      appId: APP_ID,
      id: 'notif_reply_without_part',
      createdAt: T0 + 4000,
    });
    // ticket.state.updated to waiting_on_customer with no ticket part recording it: t = the ticket's updated_at
    const bareTicket = makeTicket(
      {
        id: '9009',
        contact: grace,
        admin,
        team,
        ticketType,
        state: 'waiting_on_customer',
        createdAt: T0 + 400,
        updatedAt: T0 + 5000,
        title: 'Slow',
        description: 'Slow export',
      },
      createRng(22),
    );
    const stateChange = ticketNotification('ticket.state.updated', bareTicket, { appId: APP_ID, createdAt: T0 + 5001 });
    await pipeline.deliver([reply, stateChange]);
    const ids = [
      'intercom:conversation:454545:part:notif_reply_without_part',
      `intercom:ticket:9009:state:waiting_on_customer:${T0 + 5000}`,
    ];
    await pipeline.waitForUniqueIds(ids);
    const [r] = pipeline.eventsWithUniqueId(ids[0]);
    expect(r.metric).toBe('Replied to Conversation');
    expect(r.time).toBe(iso(T0 + 4000).replace(/Z$/, '.000Z'));
    const [w] = pipeline.eventsWithUniqueId(ids[1]);
    expect(w.metric).toBe('Ticket Marked as Waiting');
    expect(w.time).toBe(iso(T0 + 5000).replace(/Z$/, '.000Z'));
    expect(w.properties).toEqual(ticketProperties(bareTicket, grace, undefined, directory));
  });

  it('redelivery (same notification id) and a backfill of what webhooks already sent add no event', async () => {
    {
      const before = pipeline.events().length;
      // Intercom's redelivery: the same id, delivery_attempts + 1, for a conversation and a ticket state change
      await pipeline.deliver([
        { ...convCreated, delivery_attempts: 2 },
        { ...tkSubmitted, delivery_attempts: 2 },
      ]);

      // a backfill run over the same conversation and ticket, derived from their REST objects (GET with parts)
      const derived = [
        ...deriveNotifications('conversations', structuredClone(conv(convRated)) as never, {
          appId: APP_ID,
          source: 'backfill',
        }).notifications,
        ...deriveNotifications('tickets', structuredClone(tick(tkResolved)) as never, {
          appId: APP_ID,
          source: 'backfill',
        }).notifications,
      ];
      const topics = new Set(derived.map((b) => b.notification.topic));
      for (const t of [
        'conversation.rating.added',
        'conversation.user.created',
        'ticket.created',
        'ticket.state.updated',
      ])
        expect(topics).toContain(t);
      await pipeline.writeRaw(derived);
      await pipeline.quiesce();

      // the backfill records did go through the transformer, with the webhook path's unique_ids
      const fromBackfill = await waitFor(
        () => {
          const recs = eventRecords().filter((e) => e.source_notification_id.startsWith('backfill:'));
          return recs.length >= derived.length && recs;
        },
        { what: 'the backfilled event records', timeoutMs: 20_000 },
      );
      const webhookIds = new Set(expected.map((e) => e.unique_id));
      for (const e of fromBackfill)
        expect({ u: e.unique_id, fromWebhooks: webhookIds.has(e.unique_id) }).toEqual({
          u: e.unique_id,
          fromWebhooks: true,
        });
      expect(new Set(fromBackfill.map((e) => e.unique_id))).toEqual(new Set(derived.map((d) => d.expected!.uniqueId)));
      expect(fromBackfill.every((e) => e.backfill)).toBe(true);

      expect(pipeline.events()).toHaveLength(before);
      for (const want of expected)
        expect({ u: want.unique_id, n: pipeline.eventsWithUniqueId(want.unique_id).length }).toEqual({
          u: want.unique_id,
          n: 1,
        });
    }
  });

  it('a webhook with a bad signature is answered 401 and reaches neither Kafka nor Klaviyo', async () => {
    const forged = conversationNotification(
      'conversation.user.created',
      makeConversation({ id: '515151', contact: ada, admin, team, createdAt: NOW - 60, title: 'forged' }, createRng(3)),
      { appId: APP_ID, id: 'notif_forged_0001' },
    );
    const genuine = conversationNotification(
      'conversation.user.created',
      makeConversation(
        { id: '525252', contact: ada, admin, team, createdAt: NOW - 30, title: 'genuine' },
        createRng(4),
      ),
      { appId: APP_ID, id: 'notif_genuine_0001' },
    );
    expect(await pipeline.post(forged, 'not-the-client-secret')).toBe(401);
    const unsigned = await fetch(pipeline.webhookUrl, {
      method: 'POST',
      body: JSON.stringify(forged),
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    expect(await pipeline.post(genuine)).toBe(200);
    await pipeline.waitForUniqueIds(['intercom:conversation:525252:created']);
    await pipeline.quiesce();

    const codec = new AvroCodec(pipeline.configs.ingest.kafka);
    const tap = new TopicTap(createKafka(pipeline.configs.ingest.kafka), codec, `${pipeline.prefix}e2e-tap-raw`);
    const raw = topicName('notifications', pipeline.prefix);
    await tap.start([raw]);
    try {
      const records = await waitFor(
        () => {
          const r = tap.of(raw).map((m) => notificationFromAvro(m.value));
          return r.some((n) => n.notification_id === 'notif_genuine_0001') && r;
        },
        { what: 'the raw topic read to the genuine webhook' },
      );
      expect(records.filter((n) => n.notification_id === 'notif_forged_0001')).toHaveLength(0);
    } finally {
      await tap.stop();
    }
    expect(pipeline.eventsWithUniqueId('intercom:conversation:515151:created')).toHaveLength(0);
    expect(pipeline.events().some((e: StoredEvent) => e.properties.Title === 'forged')).toBe(false);
  });

  // MAPPING.md, Profiles: contact.deleted → a deletion request "and a tombstone so that a later
  // replay does not bring the person back". A replay of the profile upserts must not re-create Linus.
  it('a replay of klaviyo.profiles does not bring a deleted contact back', async () => {
    await pipeline.quiesce();
    expect(pipeline.klaviyo.store.findProfile({ email: linus.email })).toBeUndefined();
    const group = `${pipeline.prefix}replay-profiles`;
    await pipeline.startSink({ SINK_GROUP_ID: group }, { groupId: group, mode: 'replay', topics: ['profiles'] });
    const profilesTopic = topicName('profiles', pipeline.prefix);
    await waitFor(async () => (await pipeline.lag([{ groupId: group, topic: profilesTopic }])) === 0, {
      what: 'the profiles replay to reach the end',
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    expect(pipeline.klaviyo.store.findProfile({ email: ada.email })).toBeDefined(); // the replay did run
    expect(pipeline.klaviyo.store.findProfile({ email: linus.email }) ?? null).toBeNull();
    expect(pipeline.klaviyo.store.findProfile({ phone_number: '+14155550123' }) ?? null).toBeNull();
  });

  it('a replay of the klaviyo topics from the beginning (own group, replay mode) adds no event', async () => {
    await pipeline.quiesce();
    const before = pipeline.events().length;
    const metricsBefore = Object.fromEntries(pipeline.klaviyo.store.metrics().map((m) => [m.name, m.count]));
    const ignoredBefore = pipeline.klaviyo.store.duplicateEventsIgnored;
    const group = `${pipeline.prefix}replay`;
    await pipeline.startSink({ SINK_GROUP_ID: group }, { groupId: group, mode: 'replay' });
    const topics = (['events', 'profiles', 'deletions'] as const).map((k) => ({
      groupId: group,
      topic: topicName(k, pipeline.prefix),
    }));
    await waitFor(async () => (await pipeline.lag(topics)) === 0, {
      what: 'the replay to reach the end',
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    expect(pipeline.events()).toHaveLength(before);
    expect(Object.fromEntries(pipeline.klaviyo.store.metrics().map((m) => [m.name, m.count]))).toEqual(metricsBefore);
    // every stored event was sent again and dropped by its unique_id
    expect(pipeline.klaviyo.store.duplicateEventsIgnored - ignoredBefore).toBeGreaterThanOrEqual(before);
  });

  // issue #24: an operator's erasure (a deletion that did not come from Intercom) takes the
  // contact.deleted path: the directory knows her by id, the deletion asks Klaviyo by her email,
  // and the sink skips her from then on.
  it('cli erase --contact-id: deletion request for her, profile gone, her later ticket adds no event', async () => {
    await waitFor(() => pipeline.klaviyo.store.findProfile({ email: grace.email }), { what: "Grace's profile" });
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) } as never;
    const code = await runErase(
      { connectionId: 'default', contactId: grace.id, email: null, phone: null, yes: true },
      pipeline.config('cli'),
      io,
    );
    expect({ code, out: out.join('\n') }).toEqual({ code: 0, out: expect.stringContaining('erase: written') });
    await waitFor(() => pipeline.klaviyo.store.deletions.find((d) => d.identifier.email === grace.email), {
      what: 'the deletion request for Grace',
      timeoutMs: 30_000,
    });
    expect(pipeline.klaviyo.store.findProfile({ email: grace.email })).toBeUndefined();
    const later = JSON.parse(JSON.stringify(ticket[0])) as (typeof ticket)[0];
    (later as { id: string }).id = 'notif_after_erase_0001';
    (later.data.item as { id: string }).id = '9191';
    await pipeline.deliver([later]);
    await pipeline.quiesce();
    expect(pipeline.events().filter((e) => e.unique_id.startsWith('intercom:ticket:9191:'))).toHaveLength(0);
    expect(pipeline.klaviyo.store.findProfile({ email: grace.email })).toBeUndefined();
  });
});
