import type { IntercomConversation, Loose } from '@iks/intercom';
import type { IntercomNotificationInput, Lookups, MapOutcome, MappingOptions } from './mapping.types';
import { conversationProperties } from './conversation-properties.mapper';
import { newestContactPart } from './contact-reply.util';
import { conversationContactId, resolveEventContact } from './event-contact.resolver';
import { eventRecord } from './event-record.factory';
import { toUnixSeconds } from './iso-time.util';
import { MappingError } from './mapping.error';
import { metricName, type MetricKey } from '@iks/domain';
import { asArray, idString, isRecord } from './value.util';

/** Webhook topics of the conversation metrics (MAPPING.md "Metrics"). */
export const CONVERSATION_TOPICS: Readonly<Record<string, MetricKey>> = {
  'conversation.user.created': 'conversationCreated',
  'conversation.rating.added': 'conversationRated',
  'conversation.read': 'readConversation',
  'conversation.user.replied': 'repliedToConversation',
};

export function asConversation(item: Record<string, unknown>): Loose<IntercomConversation> {
  if (item.type !== undefined && item.type !== null && item.type !== 'conversation') {
    throw new MappingError(`expected a conversation in data.item, got type ${String(item.type)}`, 'invalid_payload');
  }
  if (idString(item.id) === undefined) throw new MappingError('conversation has no id', 'missing_field');
  return item as Loose<IntercomConversation>;
}

/** conversation.* topic → one event (or skip / pending). unique_id and time per MAPPING.md. */
export function mapConversationEvent(
  n: IntercomNotificationInput,
  item: Record<string, unknown>,
  key: MetricKey,
  lookups: Lookups,
  options: MappingOptions,
): MapOutcome {
  const conversation = asConversation(item);
  const id = idString(conversation.id) as string;
  const contact = resolveEventContact(conversationContactId(conversation), lookups, options.defaultPhoneRegion);
  if (contact.kind !== 'identified') return contact;

  const { uniqueId, time } = conversationIdAndTime(n, conversation, id, key);
  const record = eventRecord({
    n,
    metric: metricName(key, options.metricNames),
    contact,
    properties: conversationProperties(conversation, contact, lookups),
    time,
    uniqueId,
  });
  return { kind: 'records', records: [record], notes: [...contact.notes] };
}

function conversationIdAndTime(
  n: IntercomNotificationInput,
  conversation: Loose<IntercomConversation>,
  id: string,
  key: MetricKey,
): { uniqueId: string; time: number } {
  const base = `intercom:conversation:${id}`;
  switch (key) {
    case 'conversationCreated':
      // DECISIONS.md: a conversation without created_at falls back to the notification's created_at.
      return { uniqueId: `${base}:created`, time: toUnixSeconds(conversation.created_at) ?? n.createdAt };
    case 'conversationRated': {
      const ratedAt = toUnixSeconds(
        isRecord(conversation.conversation_rating) ? conversation.conversation_rating.created_at : undefined,
      );
      // DECISIONS.md: without conversation_rating.created_at the notification's created_at stands in.
      const t = ratedAt ?? n.createdAt;
      return { uniqueId: `${base}:rated:${t}`, time: t };
    }
    case 'readConversation':
      return { uniqueId: `${base}:read:${n.notificationId}`, time: n.createdAt };
    case 'repliedToConversation': {
      const parts = isRecord(conversation.conversation_parts)
        ? asArray<unknown>(conversation.conversation_parts.conversation_parts)
        : [];
      const part = newestContactPart(parts);
      if (part) return { uniqueId: `${base}:part:${part.id}`, time: part.createdAt };
      return { uniqueId: `${base}:part:${n.notificationId}`, time: n.createdAt };
    }
    default:
      throw new MappingError(`metric ${key} is not a conversation metric`);
  }
}
