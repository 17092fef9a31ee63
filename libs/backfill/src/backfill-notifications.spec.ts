import { mapNotification, staticLookups, type IntercomNotificationInput } from '@iks/mapping';
import type { IntercomObject } from '@iks/intercom';
import {
  conversationNotification, generateDataset, ticketNotification, type IntercomConversation,
} from '../../../tools/intercom-emulator/src';
import { validateEnvelope } from '@iks/domain';
import { backfillNotifications } from './backfill-notifications';

const data = generateDataset({ seed: 3, contacts: 40, conversations: 40, tickets: 30 });
const lookups = staticLookups({ contacts: data.contacts as any, admins: data.admins as any, teams: data.teams as any, tags: data.tags as any });
const obj = (o: unknown) => o as IntercomObject;
/** What POST /conversations/search returns: conversation_list_items without conversation_parts. */
const listItem = ({ conversation_parts: _p, ...rest }: IntercomConversation) => rest;

function input(body: string | object, source: 'webhook' | 'backfill'): IntercomNotificationInput {
  const b = (typeof body === 'string' ? JSON.parse(body) : body) as { id: string; topic: string; created_at: number };
  return { notificationId: b.id, topic: b.topic, createdAt: b.created_at, source, body: b };
}

function uniqueIds(n: IntercomNotificationInput): string[] {
  const out = mapNotification(n, lookups);
  return out.kind === 'records' ? out.records.flatMap((r) => (r.kind === 'event' ? [r.unique_id] : [])) : [];
}

describe('backfillNotifications', () => {
  it('writes full webhook envelopes with deterministic ids, keyed like the webhook path', () => {
    const conv = listItem(data.conversations[0]);
    const a = backfillNotifications('conversations', obj(conv), 'app1', 1);
    const b = backfillNotifications('conversations', obj(conv), 'app1', 2);
    expect(a.map((r) => r.notification.body)).toEqual(b.map((r) => r.notification.body));
    const [created] = a;
    expect(created.key).toBe(`conversation:${conv.id}`);
    expect(created.notification).toMatchObject({
      notification_id: `backfill:conversation:${conv.id}:created`, topic: 'conversation.user.created', app_id: 'app1',
      created_at: conv.created_at, delivery_attempts: 1, first_sent_at: null, source: 'backfill',
    });
    const body = JSON.parse(created.notification.body);
    expect(Object.keys(body)).toEqual(['type', 'id', 'topic', 'app_id', 'created_at', 'delivery_attempts', 'first_sent_at', 'data']);
    expect(body.data).toEqual({ type: 'notification_event_data', item: conv });
    for (const r of a) expect(validateEnvelope(JSON.parse(r.notification.body)).ok).toBe(true);
  });

  it('chooses topics by role, rating and ticket state', () => {
    for (const c of data.contacts) {
      const [r, ...more] = backfillNotifications('contacts', obj(c), 'app1');
      expect(more).toEqual([]);
      expect(r.notification.topic).toBe(c.role === 'lead' ? 'contact.lead.created' : 'contact.user.created');
      expect(r.key).toBe(`contact:${c.id}`);
    }
    for (const c of data.conversations) {
      const topics = backfillNotifications('conversations', obj(listItem(c)), 'app1').map((r) => r.notification.topic);
      expect(topics).toEqual(c.conversation_rating ? ['conversation.user.created', 'conversation.rating.added'] : ['conversation.user.created']);
    }
    let states = 0;
    for (const t of data.tickets) {
      const recs = backfillNotifications('tickets', obj(t), 'app1');
      const category = t.ticket_state.category;
      const mapped = ['submitted', 'waiting_on_customer', 'resolved'].includes(category);
      expect(recs.map((r) => r.notification.topic)).toEqual(mapped ? ['ticket.created', 'ticket.state.updated'] : ['ticket.created']);
      expect(recs.every((r) => r.key === `ticket:${t.id}`)).toBe(true);
      if (mapped) states++;
    }
    expect(states).toBeGreaterThan(0);
  });

  it('gives the transformer the same unique_ids as the webhooks for the same happenings', () => {
    let compared = 0;
    for (const c of data.conversations) {
      const backfilled = backfillNotifications('conversations', obj(listItem(c)), data.appId);
      const webhook = [conversationNotification('conversation.user.created', c)];
      if (c.conversation_rating) webhook.push(conversationNotification('conversation.rating.added', c));
      const fromBackfill = backfilled.flatMap((r) => uniqueIds(input(r.notification.body, 'backfill')));
      const fromWebhook = webhook.flatMap((n) => uniqueIds(input(n, 'webhook')));
      expect(fromBackfill).toEqual(fromWebhook);
      compared += fromWebhook.length;
    }
    for (const t of data.tickets) {
      const backfilled = backfillNotifications('tickets', obj(t), data.appId);
      // only ticket states reached by a state-changing part: else t falls back to updated_at (see the module comment)
      const changed = t.ticket_parts.ticket_parts.some((p) => p.ticket_state === t.ticket_state.category && p.previous_ticket_state !== p.ticket_state);
      const webhook = [ticketNotification('ticket.created', t)];
      if (backfilled.length > 1) webhook.push(ticketNotification('ticket.state.updated', t));
      const fromBackfill = backfilled.flatMap((r) => uniqueIds(input(r.notification.body, 'backfill')));
      const fromWebhook = webhook.flatMap((n) => uniqueIds(input(n, 'webhook')));
      if (changed || backfilled.length === 1) {
        expect(fromBackfill).toEqual(fromWebhook);
        compared += fromWebhook.length;
      }
    }
    expect(compared).toBeGreaterThan(30);
  });
});
