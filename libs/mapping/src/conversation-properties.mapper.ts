import type { IntercomConversation, IntercomTag, Loose } from '@iks/intercom';
import type { Lookups } from './mapping.types';
import type { EventContact } from './event-contact.resolver';
import { assigneeNames } from './assignee.util';
import { toIso8601 } from './iso-time.util';
import { asArray, idString, isRecord, optionalNumber, optionalString, setIfPresent } from './value.util';

type Identified = Extract<EventContact, { kind: 'identified' }>;

/**
 * The properties shared by the four conversation metrics (MAPPING.md "Conversation
 * metrics"), in the table's order. Missing / null / "" sources are omitted.
 */
export function conversationProperties(
  conversation: Loose<IntercomConversation>,
  contact: Identified,
  lookups: Lookups,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const names = assigneeNames(conversation.admin_assignee_id, conversation.team_assignee_id, lookups);
  const stats = isRecord(conversation.statistics) ? conversation.statistics : undefined;
  const parts = isRecord(conversation.conversation_parts) ? conversation.conversation_parts : undefined;
  const source = isRecord(conversation.source) ? conversation.source : undefined;
  const rating = isRecord(conversation.conversation_rating) ? conversation.conversation_rating : undefined;

  setIfPresent(p, 'email', contact.email);
  setIfPresent(p, 'phone_number', contact.phoneNumber);
  setIfPresent(p, 'Title', optionalString(conversation.title));
  setIfPresent(p, 'Snoozed Until', toIso8601(conversation.snoozed_until));
  setIfPresent(p, 'Waiting Since', toIso8601(conversation.waiting_since));
  setIfPresent(p, 'Priority', optionalString(conversation.priority));
  setIfPresent(p, 'Assigned Team', names.teamName);
  setIfPresent(p, 'Assigned Admin Name', names.adminName);
  setIfPresent(p, 'Assigned Admin Email', names.adminEmail);
  setIfPresent(p, 'Tags', conversationTagNames(conversation, lookups));
  setIfPresent(p, 'Conversation Rating', optionalNumber(rating?.rating));
  setIfPresent(p, 'Conversation Source', optionalString(source?.type));
  setIfPresent(p, 'Conversation Delivered As', optionalString(source?.delivered_as));
  setIfPresent(
    p,
    'Conversation Parts Count',
    optionalNumber(stats?.count_conversation_parts) ?? optionalNumber(parts?.total_count),
  );
  setIfPresent(
    p,
    'SLA Status',
    optionalString(isRecord(conversation.sla_applied) ? conversation.sla_applied.sla_status : undefined),
  );
  setIfPresent(p, 'Reopened Count', optionalNumber(stats?.count_reopens));
  setIfPresent(p, 'Assignment Count', optionalNumber(stats?.count_assignments));
  if (isRecord(conversation.custom_attributes)) p['Custom Attributes'] = conversation.custom_attributes;
  setIfPresent(p, 'Conversation ID', idString(conversation.id));
  return p;
}

/**
 * `tags.tags[].name` (components.schemas.tags). A tag without a name is named from the
 * directory (GET /tags); a tag that has no name anywhere is left out. An absent tag list
 * omits the property; a present empty list gives [] (DECISIONS.md).
 */
export function conversationTagNames(
  conversation: Loose<IntercomConversation>,
  lookups: Lookups,
): string[] | undefined {
  if (!isRecord(conversation.tags) || !Array.isArray(conversation.tags.tags)) return undefined;
  const names: string[] = [];
  for (const tag of asArray<Loose<IntercomTag>>(conversation.tags.tags)) {
    if (!isRecord(tag)) continue;
    const id = idString(tag.id);
    const name = optionalString(tag.name) ?? (id ? optionalString(lookups.tagName(id)) : undefined);
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}
