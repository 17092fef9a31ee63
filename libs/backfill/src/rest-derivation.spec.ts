import { validateEnvelope } from '@iks/domain';
import type { IntercomConversation, IntercomObject } from '@iks/intercom';
import { mapNotification, staticLookups, type IntercomNotificationInput, type Lookups } from '@iks/mapping';
import { Secret } from '@iks/config';
import { IntercomClient } from '@iks/intercom';
import {
  conversationLifecycle,
  generateDataset,
  startIntercomEmulator,
  ticketLifecycle,
} from '../../../tools/intercom-emulator/src';
import { fixtureLookups, notificationFixture } from '../../mapping/src/__tests__/fixture.helpers';
import { deriveNotifications, type DerivedNotification } from './rest-derivation';

const obj = (o: unknown) => o as IntercomObject;

function input(body: string | object, source: 'webhook' | 'backfill'): IntercomNotificationInput {
  const b = (typeof body === 'string' ? JSON.parse(body) : body) as { id: string; topic: string; created_at: number };
  return { notificationId: b.id, topic: b.topic, createdAt: b.created_at, source, body: b };
}

function uniqueIds(n: IntercomNotificationInput, lookups: Lookups): string[] {
  const out = mapNotification(n, lookups);
  return out.kind === 'records' ? out.records.flatMap((r) => (r.kind === 'event' ? [r.unique_id] : [])) : [];
}

/** What the transformer makes of the derived notifications; each must be what the derivation expects. */
function mappedIds(derived: readonly DerivedNotification[], lookups: Lookups): string[] {
  return derived.flatMap((d) => {
    const ids = uniqueIds(input(d.notification.body, 'backfill'), lookups);
    expect(ids).toEqual(d.expected ? [d.expected.uniqueId] : []);
    expect(validateEnvelope(JSON.parse(d.notification.body)).ok).toBe(true);
    return ids;
  });
}

const sorted = (a: Iterable<string>) => [...new Set(a)].sort();

describe('deriveNotifications: the unique_ids of the webhook path, from REST', () => {
  const data = generateDataset({ seed: 5, contacts: 10, conversations: 0, tickets: 0 });
  const lookups = staticLookups({ contacts: data.contacts, admins: data.admins, teams: data.teams, tags: data.tags });
  const contact = data.contacts.find((c) => c.email)!;

  it('a conversation lifecycle: every webhook unique_id but Read Conversation, none other', () => {
    const webhooks = conversationLifecycle({
      contact,
      admin: data.admins[0],
      team: data.teams[0],
      startAt: 1_764_000_000,
      appId: data.appId,
    });
    const fromWebhooks = webhooks.flatMap((n) => uniqueIds(input(n, 'webhook'), lookups));
    const rest = webhooks.at(-1)!.data.item; // GET /conversations/{id} now: every part, the rating
    const { notifications, truncated } = deriveNotifications('conversations', obj(rest), {
      appId: data.appId,
      source: 'reconcile',
      receivedAt: 1,
    });
    expect(truncated).toBe(false);
    const derived = mappedIds(notifications, lookups);
    expect(sorted(derived)).toEqual(sorted(fromWebhooks.filter((id) => !id.includes(':read:'))));
    expect(fromWebhooks.some((id) => id.includes(':read:'))).toBe(true);
    expect(notifications.map((n) => n.notification.topic)).toEqual([
      'conversation.user.created',
      'conversation.user.replied',
      'conversation.rating.added',
    ]);
    expect(
      notifications.every((n) => n.notification.source === 'reconcile' && n.key === `conversation:${rest.id}`),
    ).toBe(true);
  });

  it('a ticket lifecycle: every webhook unique_id (both resolve topics give one), none other', () => {
    const webhooks = ticketLifecycle({
      contact,
      admin: data.admins[0],
      team: data.teams[0],
      startAt: 1_764_000_000,
      appId: data.appId,
    });
    const fromWebhooks = webhooks.flatMap((n) => uniqueIds(input(n, 'webhook'), lookups));
    const rest = webhooks.at(-1)!.data.item;
    const derived = mappedIds(
      deriveNotifications('tickets', obj(rest), { appId: data.appId, source: 'backfill' }).notifications,
      lookups,
    );
    expect(derived).toHaveLength(new Set(derived).size);
    expect(sorted(derived)).toEqual(sorted(fromWebhooks));
  });

  it('the hand-written webhook fixtures: the same unique_ids, and the documented differences only', () => {
    const lookupsF = fixtureLookups();
    const files = [
      'conversation.user.created.json',
      'conversation.user.replied.json',
      'conversation.read.json',
      'conversation.rating.added.json',
      'ticket.created.json',
      'ticket.state.updated.in_progress.json',
      'ticket.state.updated.waiting_on_customer.json',
      'ticket.contact.replied.json',
      'ticket.state.updated.resolved.json',
      'ticket.resolved.json',
      'ticket.state.updated.submitted.2_11.json',
    ];
    const fromWebhooks = files.flatMap((f) => uniqueIds(input(notificationFixture(f), 'webhook'), lookupsF));
    // the conversation as REST holds it after these webhooks: the replied payload's parts and the rating
    const conversation = {
      ...(notificationFixture('conversation.user.replied.json').data.item as object),
      conversation_rating: (notificationFixture('conversation.rating.added.json').data.item as IntercomConversation)
        .conversation_rating,
    };
    const ticket = notificationFixture('ticket.resolved.json').data.item;
    const derived = [
      ...mappedIds(
        deriveNotifications('conversations', obj(conversation), { appId: 'x', source: 'reconcile' }).notifications,
        lookupsF,
      ),
      ...mappedIds(
        deriveNotifications('tickets', obj(ticket), { appId: 'x', source: 'reconcile' }).notifications,
        lookupsF,
      ),
    ];
    const onlyWebhook = sorted(fromWebhooks.filter((id) => !derived.includes(id)));
    const onlyDerived = sorted(derived.filter((id) => !fromWebhooks.includes(id)));
    expect(onlyWebhook).toEqual([
      // Read Conversation: the notification id is the unique_id; not derived (DECISIONS.md)
      'intercom:conversation:1911149811:read:notif_0a1b2c3d-1111-4e5f-8a9b-000000000004',
      // the 2.11 payload has no ticket_parts, so its t is the updated_at of a later version of the ticket,
      // a submit that the 2.14 ticket's parts (above) do not record
      'intercom:ticket:2189:state:submitted:1764100000',
    ]);
    expect(onlyDerived).toEqual([
      // earlier contact replies: Intercom sent a webhook for each, but the fixtures hold only the
      // notification of the later reply (whose payload shows both)
      'intercom:conversation:1911149811:part:30123402',
      'intercom:ticket:2189:part:58004',
    ]);
    expect(derived.length).toBe(new Set(derived).size);
  });

  it('keeps only what happened inside the window', () => {
    const webhooks = ticketLifecycle({ contact, admin: data.admins[0], startAt: 1_764_000_000, appId: data.appId });
    const rest = obj(webhooks.at(-1)!.data.item);
    const all = deriveNotifications('tickets', rest, { appId: 'a', source: 'reconcile' }).notifications;
    const some = deriveNotifications('tickets', rest, {
      appId: 'a',
      source: 'reconcile',
      window: { since: 1_764_000_000 + 1, until: 1_764_000_000 + 3600 },
    }).notifications;
    expect(some.map((n) => n.at)).toEqual(all.map((n) => n.at).filter((t) => t > 1_764_000_000 && t < 1_764_003_600));
    expect(some.length).toBeGreaterThan(0);
  });

  it('says when Intercom answered only the most recent 500 parts', () => {
    const conv = notificationFixture('conversation.user.replied.json').data.item as IntercomConversation;
    const truncated = { ...conv, conversation_parts: { ...conv.conversation_parts, total_count: 750 } };
    expect(deriveNotifications('conversations', obj(truncated), { appId: 'x', source: 'backfill' }).truncated).toBe(
      true,
    );
  });

  it('does not make a conversation an admin started into Conversation Created', () => {
    const conv = notificationFixture('conversation.user.replied.json').data.item as IntercomConversation;
    const outbound = { ...conv, source: { ...conv.source, author: { type: 'admin', id: '814860' } } };
    const topics = deriveNotifications('conversations', obj(outbound), {
      appId: 'x',
      source: 'backfill',
    }).notifications.map((n) => n.notification.topic);
    expect(topics).not.toContain('conversation.user.created');
  });
});

describe('deriveNotifications from the Intercom emulator at Intercom-Version 2.11 and 2.14', () => {
  it('2.11 tickets (ticket_state a string) derive and map to the same events as 2.14 ones', async () => {
    const dataset = generateDataset({ seed: 12, contacts: 20, conversations: 0, tickets: 25 });
    const emu = await startIntercomEmulator({ dataset });
    const lookups = staticLookups(
      JSON.parse(JSON.stringify({ ...dataset, subscriptions: dataset.contactSubscriptions })),
    );
    const at = (version: string) =>
      new IntercomClient({ baseUrl: emu.url, accessToken: new Secret(emu.accessToken), version });
    try {
      const events: string[] = [];
      for (const t of dataset.tickets) {
        const v211 = (await at('2.11').getTicket(t.id))!;
        const v214 = (await at('2.14').getTicket(t.id))!;
        expect(typeof v211.ticket_state).toBe('string');
        const outcomes = (ticket: IntercomObject) =>
          deriveNotifications('tickets', ticket, { appId: dataset.appId, source: 'backfill' }).notifications.map((d) =>
            mapNotification(input(d.notification.body, 'backfill'), lookups),
          );
        const mapped211 = outcomes(v211);
        expect(mapped211).toEqual(outcomes(v214));
        for (const o of mapped211)
          if (o.kind === 'records') events.push(...o.records.flatMap((r) => (r.kind === 'event' ? [r.unique_id] : [])));
      }
      expect(events.filter((id) => id.includes(':state:')).length).toBeGreaterThan(0); // the 2.11 state branch mapped something
      expect(emu.requests.filter((r) => r.intercomVersion === '2.11')).toHaveLength(dataset.tickets.length);
    } finally {
      await emu.close();
    }
  });
});
