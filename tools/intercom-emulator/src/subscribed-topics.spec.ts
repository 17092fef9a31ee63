import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMappedTopic, mapNotification, staticLookups, type MapOutcome } from '@iks/mapping';
import { generateDataset } from './dataset';
import {
  CONTACT_TAG_TOPICS,
  CONTACT_TOPICS,
  SUBSCRIPTION_TOPICS,
  contactArchivedNotification,
  contactDeletedNotification,
  contactNotification,
  contactTagNotification,
  conversationLifecycle,
  subscriptionNotification,
  ticketLifecycle,
} from './notifications';
import type { IntercomNotification } from './webhook.sender';

/**
 * Issue #10 item 4: every topic the README asks users to subscribe to, as the emulator sends it,
 * is mapped by libs/mapping into Klaviyo records (no dead letter, no silent skip).
 */
const README = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
const setUp = README.slice(README.indexOf('## Registering the webhook in Intercom'), README.indexOf('## Tests'));

const dataset = generateDataset({ seed: 4, contacts: 30, conversations: 5, tickets: 5 });
const contact = dataset.contacts.find((c) => c.email && c.role === 'user')!;
const lead = { ...contact, role: 'lead' as const };
const [admin] = dataset.admins;
const [team] = dataset.teams;
// the directory the transformer would build from this workspace: the same JSON, seen through the
// mapping's open Intercom types (the emulator's are closed interfaces)
const lookups = staticLookups(JSON.parse(JSON.stringify({ ...dataset, subscriptions: dataset.contactSubscriptions })));

function sent(): IntercomNotification[] {
  return [
    ...conversationLifecycle({ contact, admin, team, startAt: 1767300000 }),
    ...ticketLifecycle({ contact, admin, team, startAt: 1767400000 }),
    ...CONTACT_TOPICS.map((t) => contactNotification(t, t.includes('lead') ? lead : contact)),
    ...CONTACT_TAG_TOPICS.map((t) => contactTagNotification(t, t.includes('lead') ? lead : contact, dataset.tags[0])),
    ...SUBSCRIPTION_TOPICS.map((t) => subscriptionNotification(t, contact, dataset.subscriptionTypes[0])),
    contactDeletedNotification(contact),
    contactArchivedNotification(contact),
  ];
}

const map = (n: IntercomNotification): MapOutcome =>
  mapNotification(
    { notificationId: n.id, topic: n.topic, createdAt: n.created_at, source: 'webhook', body: n },
    lookups,
    { deleteOnArchive: true },
  );

describe('the topics of the README set-up, as the emulator sends them', () => {
  const notifications = sent();

  it('are exactly the topics the README lists (ticket.closed named only to be left out)', () => {
    const listed = new Set([...setUp.matchAll(/`((?:contact|conversation|ticket)(?:\.[a-z_]+)+)`/g)].map((m) => m[1]));
    listed.delete('ticket.closed');
    expect([...new Set(notifications.map((n) => n.topic))].sort()).toEqual([...listed].sort());
    for (const t of listed) expect(isMappedTopic(t)).toBe(true);
  });

  it.each(notifications.map((n) => [n.topic, n] as const))('%s maps to Klaviyo records', (_topic, n) => {
    const outcome = map(n);
    expect(outcome.kind === 'records' ? outcome.kind : outcome).toBe('records');
  });

  it('ticket.closed (offered by Intercom, not asked for) is acknowledged and not mapped', () => {
    expect(isMappedTopic('ticket.closed')).toBe(false);
    expect(setUp).toContain('Not `ticket.closed`');
  });
});
