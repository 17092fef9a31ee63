/**
 * Example data for a new connection (issue #23, Klaviyo's app-review guide: seed sample data so a
 * marketer can build flows at once): one example profile and one event of each of the nine
 * metrics, made by the real mapping from Intercom-shaped example notifications (the fixtures of
 * this lib, shaped as Intercom's API 2.14 describes them), then re-addressed to one example person
 * and marked: `Example: true` on every event and on the profile, unique_ids `example:<…>` (a
 * second seeding adds nothing: Klaviyo deduplicates them). Off by default (CONNECTIONS_SEED_EXAMPLES).
 */
import { METRICS, type KlaviyoEventRecord, type KlaviyoProfileRecord, type MetricKey } from '@iks/domain';
import type { IntercomAdmin, IntercomContact, IntercomTag, IntercomTeam, Loose } from '@iks/intercom';
import admins from '../fixtures/admins.json';
import contacts from '../fixtures/contacts.json';
import conversationRated from '../fixtures/notifications/conversation.rating.added.json';
import conversationRead from '../fixtures/notifications/conversation.read.json';
import conversationCreated from '../fixtures/notifications/conversation.user.created.json';
import conversationReplied from '../fixtures/notifications/conversation.user.replied.json';
import ticketReplied from '../fixtures/notifications/ticket.contact.replied.json';
import ticketCreated from '../fixtures/notifications/ticket.created.json';
import ticketResolved from '../fixtures/notifications/ticket.resolved.json';
import ticketSubmitted from '../fixtures/notifications/ticket.state.updated.submitted.2_11.json';
import ticketWaiting from '../fixtures/notifications/ticket.state.updated.waiting_on_customer.json';
import tags from '../fixtures/tags.json';
import teams from '../fixtures/teams.json';
import { mapContactToProfile } from './contact-profile.mapper';
import type { MappingOptions } from './mapping.types';
import { mapNotification } from './notification.mapper';
import { staticLookups } from './static-lookups.adapter';

/** The example person every example record is about (example.com: a domain that receives no mail). */
export const EXAMPLE_EMAIL = 'example.person@example.com';
export const EXAMPLE_CONTACT_ID = 'example';

const NOTIFICATIONS: ReadonlyArray<{ readonly metric: MetricKey; readonly body: unknown }> = [
  { metric: 'conversationCreated', body: conversationCreated },
  { metric: 'repliedToConversation', body: conversationReplied },
  { metric: 'readConversation', body: conversationRead },
  { metric: 'conversationRated', body: conversationRated },
  { metric: 'ticketCreated', body: ticketCreated },
  { metric: 'ticketSubmitted', body: ticketSubmitted },
  { metric: 'repliedToTicket', body: ticketReplied },
  { metric: 'ticketMarkedAsWaiting', body: ticketWaiting },
  { metric: 'ticketResolved', body: ticketResolved },
];

const list = <T>(v: unknown, key: string): T[] =>
  (Array.isArray(v) ? v : ((v as Record<string, unknown>)[key] ?? (v as { data?: unknown }).data ?? [])) as T[];

/** One example profile and one event of each metric (named as `options.metricNames` says), at `nowMs`. */
export function exampleRecords(
  options: MappingOptions,
  nowMs: number,
): { profile: KlaviyoProfileRecord; events: KlaviyoEventRecord[] } {
  const lookups = staticLookups({
    contacts: list<Loose<IntercomContact>>(contacts, 'data'),
    admins: list<Loose<IntercomAdmin>>(admins, 'admins'),
    teams: list<Loose<IntercomTeam>>(teams, 'teams'),
    tags: list<Loose<IntercomTag>>(tags, 'data'),
    subscriptions: {},
  });
  const time = new Date(Math.floor(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const events: KlaviyoEventRecord[] = [];
  let person: Loose<IntercomContact> | undefined;
  for (const n of NOTIFICATIONS) {
    const body = JSON.parse(JSON.stringify(n.body)) as { id: string; topic: string; created_at: number };
    const outcome = mapNotification(
      { notificationId: body.id, topic: body.topic, createdAt: body.created_at, source: 'webhook', body },
      lookups,
      options,
    );
    const wanted = options.metricNames?.[n.metric] || METRICS[n.metric];
    const event =
      outcome.kind === 'records'
        ? outcome.records.find((r): r is KlaviyoEventRecord => r.kind === 'event' && r.metric === wanted)
        : undefined;
    if (!event) throw new Error(`the example of ${METRICS[n.metric]} (${body.topic}) maps to no such event`);
    person ??= event.intercom_contact_id ? lookups.contact(event.intercom_contact_id) : undefined;
    events.push({
      ...event,
      profile: { email: EXAMPLE_EMAIL },
      properties: { ...event.properties, Example: true },
      time,
      unique_id: `example:${event.unique_id}`,
      backfill: false,
      intercom_contact_id: EXAMPLE_CONTACT_ID,
      source_notification_id: `example:${body.id}`,
    });
  }
  const mapped = person
    ? mapContactToProfile(person, lookups, { notificationId: 'example', backfill: false }, options)
    : undefined;
  const profile: KlaviyoProfileRecord = {
    kind: 'profile',
    intercom_contact_id: EXAMPLE_CONTACT_ID,
    email: EXAMPLE_EMAIL,
    first_name: 'Example',
    last_name: 'Person',
    ...(mapped?.location ? { location: mapped.location } : {}),
    properties: { ...(mapped?.properties ?? {}), 'Intercom Contact ID': EXAMPLE_CONTACT_ID, Example: true },
    updated_at: Math.floor(nowMs / 1000),
    backfill: false,
    source_notification_id: 'example:profile',
  };
  return { profile, events };
}
