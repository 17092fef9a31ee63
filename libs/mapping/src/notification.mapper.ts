import type { IntercomNotificationInput, Lookups, MapOutcome, MappingOptions } from './mapping.types';
import { CONVERSATION_TOPICS, mapConversationEvent } from './conversation-event.mapper';
import { isContactTopic, mapContactTopic } from './contact-topic.mapper';
import { notificationItem } from './notification-item.util';
import { mapTicketEvent, TICKET_TOPICS } from './ticket-event.mapper';

/**
 * One Intercom notification → Klaviyo records, or a skip / pending outcome with its
 * reason. Pure: every lookup is answered from `lookups`, filled beforehand (see
 * requiredLookups). Throws MappingError for a payload that cannot be mapped.
 * The topic is `n.topic` (what ingest recorded), not re-read from the body.
 */
/** Whether MAPPING.md maps this Intercom topic (anything else is acknowledged and produces nothing). */
export function isMappedTopic(topic: string): boolean {
  return Object.hasOwn(CONVERSATION_TOPICS, topic) || TICKET_TOPICS.has(topic) || isContactTopic(topic);
}

export function mapNotification(n: IntercomNotificationInput, lookups: Lookups, options: MappingOptions = {}): MapOutcome {
  const topic = n.topic;
  const conversationKey = Object.hasOwn(CONVERSATION_TOPICS, topic) ? CONVERSATION_TOPICS[topic] : undefined;
  // Any other topic is acknowledged and kept in the raw topic; it produces nothing (MAPPING.md).
  if (!isMappedTopic(topic)) return { kind: 'skip', reason: `unmapped topic ${topic}` };

  const item = notificationItem(n.body);
  if (conversationKey !== undefined) return mapConversationEvent(n, item, conversationKey, lookups, options);
  if (TICKET_TOPICS.has(topic)) return mapTicketEvent(n, item, lookups, options);
  return mapContactTopic(n, item, lookups, options);
}
