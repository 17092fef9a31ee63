import type { IntercomNotificationInput, Lookups, MapOutcome, MappingOptions } from './mapping.types';
import { CONVERSATION_TOPICS, mapConversationEvent } from './conversation-event.mapper';
import { isContactTopic, mapContactTopic } from './contact-topic.mapper';
import { MappingError } from './mapping.error';
import { notificationItem } from './notification-item.util';
import { isRecord } from './value.util';
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

export function mapNotification(
  n: IntercomNotificationInput,
  lookups: Lookups,
  options: MappingOptions = {},
): MapOutcome {
  const topic = n.topic;
  const conversationKey = Object.hasOwn(CONVERSATION_TOPICS, topic) ? CONVERSATION_TOPICS[topic] : undefined;
  // Any other topic is acknowledged and kept in the raw topic; it produces nothing (MAPPING.md).
  if (!isMappedTopic(topic)) return { kind: 'skip', reason: `unmapped topic ${topic}` };

  const item = notificationItem(n.body);
  if (isLegacyItem(item)) {
    throw new MappingError(
      `${topic}: payload in the pre-2.0 API shape (data.item.user, no data.item.contacts): set the Intercom app's API version to 2.x`,
      'legacy_payload',
    );
  }
  if (conversationKey !== undefined) return mapConversationEvent(n, item, conversationKey, lookups, options);
  if (TICKET_TOPICS.has(topic)) return mapTicketEvent(n, item, lookups, options);
  return mapContactTopic(n, item, lookups, options);
}

/**
 * An item of Intercom's API 1.x (a webhook subscription of an app still on 1.x): a conversation
 * names its person in `user` and has no `contacts` list. The 2.x mapping cannot read it; waiting
 * for a contact would only delay the dead letter (DECISIONS.md "Payloads").
 */
function isLegacyItem(item: Record<string, unknown>): boolean {
  return isRecord(item.user) && item.contacts === undefined;
}
