import type { IntercomObject } from '@iks/intercom';
import type { IntercomConversation } from '@iks/intercom';
import { generateDataset } from '../../../tools/intercom-emulator/src';
import { validateEnvelope } from '@iks/domain';
import { deriveNotifications } from './rest-derivation';

const data = generateDataset({ seed: 3, contacts: 40, conversations: 40, tickets: 30 });
const obj = (o: unknown) => o as IntercomObject;
/** What POST /conversations/search returns: conversation_list_items without conversation_parts. */
const listItem = ({ conversation_parts: _p, ...rest }: IntercomConversation) => rest;
const backfill = (kind: 'contacts' | 'conversations' | 'tickets', item: IntercomObject, receivedAt?: number) =>
  deriveNotifications(kind, item, { appId: 'app1', source: 'backfill', receivedAt }).notifications;

describe('deriveNotifications: the records it writes', () => {
  it('writes full webhook envelopes with deterministic ids, keyed like the webhook path', () => {
    const conv = listItem(data.conversations.find((c) => ['user', 'lead'].includes(String(c.source?.author?.type)))!);
    const a = backfill('conversations', obj(conv), 1);
    const b = backfill('conversations', obj(conv), 2);
    expect(a.map((r) => r.notification.body)).toEqual(b.map((r) => r.notification.body));
    const [created] = a;
    expect(created.key).toBe(`conversation:${conv.id}`);
    expect(created.notification).toMatchObject({
      notification_id: `backfill:conversation:${conv.id}:created`,
      topic: 'conversation.user.created',
      app_id: 'app1',
      created_at: conv.created_at,
      delivery_attempts: 1,
      first_sent_at: null,
      source: 'backfill',
    });
    const body = JSON.parse(created.notification.body);
    expect(Object.keys(body)).toEqual([
      'type',
      'id',
      'topic',
      'app_id',
      'created_at',
      'delivery_attempts',
      'first_sent_at',
      'data',
    ]);
    expect(body.data.type).toBe('notification_event_data');
    expect(body.data.item.id).toBe(conv.id);
    for (const r of a) expect(validateEnvelope(JSON.parse(r.notification.body)).ok).toBe(true);
  });

  it('contacts: one created notification by role, keyed by the contact', () => {
    for (const c of data.contacts) {
      const [r, ...more] = backfill('contacts', obj(c));
      expect(more).toEqual([]);
      expect(r.notification.topic).toBe(c.role === 'lead' ? 'contact.lead.created' : 'contact.user.created');
      expect(r.key).toBe(`contact:${c.id}`);
    }
  });

  it('tickets: every record keyed by the ticket', () => {
    for (const t of data.tickets)
      expect(backfill('tickets', obj(t)).every((r) => r.key === `ticket:${t.id}`)).toBe(true);
  });
});
