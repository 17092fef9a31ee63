import type { ContactReference, IntercomConversation, IntercomTicketAnyVersion, Loose } from '@iks/intercom';
import type { Lookups } from './mapping.types';
import { toE164 } from './e164.util';
import { asArray, idString, isRecord, optionalString } from './value.util';

/** Author types that are the contact itself (conversation_part_author.type / ticket_part_author.type). */
export const CONTACT_AUTHOR_TYPES: ReadonlySet<string> = new Set(['user', 'lead', 'contact']);

/**
 * MAPPING.md "Where the contact and the names come from": the contact is the first
 * `contacts.contacts[].id`; for a conversation started by a contact, `source.author`
 * also names it (used only when the contact list is empty or absent).
 */
export function conversationContactId(conversation: Loose<IntercomConversation>): string | undefined {
  const first = firstContactRef(conversation.contacts);
  if (first) return first;
  const author = conversation.source?.author;
  if (isRecord(author) && typeof author.type === 'string' && CONTACT_AUTHOR_TYPES.has(author.type))
    return idString(author.id);
  return undefined;
}

export function ticketContactId(ticket: Loose<IntercomTicketAnyVersion>): string | undefined {
  return firstContactRef(ticket.contacts);
}

function firstContactRef(list: { contacts?: Loose<ContactReference>[] | null } | null | undefined): string | undefined {
  if (!isRecord(list)) return undefined;
  for (const ref of asArray<Loose<ContactReference>>(list.contacts)) {
    const id = isRecord(ref) ? idString(ref.id) : undefined;
    if (id) return id;
  }
  return undefined;
}

export type EventContact =
  | { kind: 'identified'; contactId: string; email?: string; phoneNumber?: string; notes: string[] }
  | { kind: 'skip'; reason: string }
  | { kind: 'pending'; reason: string; contactId?: string };

/**
 * The Klaviyo profile of an event: the contact's email and/or E.164 phone from the
 * directory. MAPPING.md: an event whose contact has neither "waits (retry path) and
 * ends in the dead-letter topic": that is `pending`. A contact unknown to the
 * directory is `pending` too (the transformer fetches GET /contacts/{id} and retries).
 * A tombstoned contact (contact.deleted seen) is skipped, so a replay cannot bring the
 * person back into Klaviyo.
 */
export function resolveEventContact(contactId: string | undefined, lookups: Lookups, region?: string): EventContact {
  if (!contactId) return { kind: 'pending', reason: 'no contact reference in payload' };
  if (lookups.contactDeleted(contactId)) return { kind: 'skip', reason: `contact ${contactId} deleted` };
  const contact = lookups.contact(contactId);
  if (!contact) return { kind: 'pending', reason: `contact ${contactId} unknown to directory`, contactId };
  const notes: string[] = [];
  const email = optionalString(contact.email)?.trim();
  const rawPhone = optionalString(contact.phone);
  const phoneNumber = toE164(rawPhone, region);
  if (rawPhone !== undefined && phoneNumber === undefined) notes.push('phone_not_e164');
  if (!email && !phoneNumber)
    return { kind: 'pending', reason: `contact ${contactId} has no email and no E.164 phone`, contactId };
  return { kind: 'identified', contactId, ...(email ? { email } : {}), ...(phoneNumber ? { phoneNumber } : {}), notes };
}
