import type { IntercomConversation, IntercomTag, IntercomTicketAnyVersion, Loose } from '@iks/intercom';
import type { IntercomNotificationInput, RequiredLookups } from './mapping.types';
import { CONVERSATION_TOPICS } from './conversation-event.mapper';
import { conversationContactId, ticketContactId } from './event-contact.resolver';
import { contactTagRefs } from './contact-profile.mapper';
import { contactOfItem, isContactTopic, isPartialContact, isTagTopic, tagOfItem } from './contact-topic.mapper';
import { notificationItem } from './notification-item.util';
import { TICKET_TOPICS } from './ticket-event.mapper';
import { asArray, assigneeId, idString, isRecord, optionalString } from './value.util';

/**
 * What the directory must hold before mapNotification runs (ids as strings, no
 * duplicates). Never throws: a payload mapNotification would reject needs nothing.
 */
export function requiredLookups(n: IntercomNotificationInput): RequiredLookups {
  const need = {
    contactIds: new Set<string>(),
    adminIds: new Set<string>(),
    teamIds: new Set<string>(),
    tagIds: new Set<string>(),
    subscriptionContactIds: new Set<string>(),
  };
  let item: Record<string, unknown>;
  try {
    item = notificationItem(n.body);
  } catch {
    return toLists(need);
  }
  const add = (set: Set<string>, id: string | undefined) => id !== undefined && set.add(id);

  if (Object.hasOwn(CONVERSATION_TOPICS, n.topic)) {
    const conversation = item as Loose<IntercomConversation>;
    add(need.contactIds, conversationContactId(conversation));
    add(need.adminIds, assigneeId(conversation.admin_assignee_id));
    add(need.teamIds, assigneeId(conversation.team_assignee_id));
    const tags = isRecord(conversation.tags) ? asArray<Loose<IntercomTag>>(conversation.tags.tags) : [];
    for (const tag of tags)
      if (isRecord(tag) && optionalString(tag.name) === undefined) add(need.tagIds, idString(tag.id));
  } else if (TICKET_TOPICS.has(n.topic)) {
    const ticket = item as Loose<IntercomTicketAnyVersion>;
    add(need.contactIds, ticketContactId(ticket));
    add(need.adminIds, assigneeId(ticket.admin_assignee_id));
    add(need.teamIds, assigneeId(ticket.team_assignee_id));
  } else if (isContactTopic(n.topic)) {
    let contact;
    try {
      contact = contactOfItem(item);
    } catch {
      return toLists(need);
    }
    const id = idString(contact.id);
    if (n.topic === 'contact.deleted' || n.topic === 'contact.archived') {
      // The payload may carry only the id: email / phone for the deletion come from the directory.
      if (id && !optionalString(contact.email) && !optionalString(contact.phone)) add(need.contactIds, id);
    } else if (id) {
      add(need.subscriptionContactIds, id);
      if (isPartialContact(contact)) add(need.contactIds, id);
      if (isTagTopic(n.topic)) {
        const tag = tagOfItem(item);
        if (tag && optionalString(tag.name) === undefined) add(need.tagIds, idString(tag.id));
      }
      for (const ref of contactTagRefs(contact) ?? [])
        if (isRecord(ref) && optionalString(ref.name) === undefined) add(need.tagIds, idString(ref.id));
    }
  }
  return toLists(need);
}

function toLists(need: Record<keyof RequiredLookups, Set<string>>): RequiredLookups {
  return {
    contactIds: [...need.contactIds],
    adminIds: [...need.adminIds],
    teamIds: [...need.teamIds],
    tagIds: [...need.tagIds],
    subscriptionContactIds: [...need.subscriptionContactIds],
  };
}
