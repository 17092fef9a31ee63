import type { KlaviyoDeletionRecord } from '@iks/domain';
import type { IntercomContact, IntercomTag, Loose } from '@iks/intercom';
import type { IntercomNotificationInput, Lookups, MapOutcome, MappingOptions } from './mapping.types';
import { contactProfile, type TagChange } from './contact-profile.mapper';
import { toE164 } from './e164.util';
import { MappingError } from './mapping.error';
import { idString, isRecord, optionalString } from './value.util';

/** MAPPING.md "Profiles": the contact topics that upsert the Klaviyo profile. */
const PROFILE_TOPICS: ReadonlySet<string> = new Set([
  'contact.user.created',
  'contact.lead.created',
  'contact.user.updated',
  'contact.lead.updated',
  'contact.email.updated',
  'contact.lead.signed_up',
  'contact.subscribed',
  'contact.unsubscribed',
]);

/** contact.user.tag.created, contact.lead.tag.deleted, ... (`contact.*.tag.created|deleted`). */
const TAG_TOPIC = /^contact\.[a-z_]+\.tag\.(created|deleted)$/;

export function isContactTopic(topic: string): boolean {
  return (
    PROFILE_TOPICS.has(topic) || TAG_TOPIC.test(topic) || topic === 'contact.deleted' || topic === 'contact.archived'
  );
}

export function isTagTopic(topic: string): boolean {
  return TAG_TOPIC.test(topic);
}

const CONTACT_TYPES: ReadonlySet<string> = new Set(['contact', 'user', 'lead']);

/**
 * contact.subscribed / contact.unsubscribed: Intercom's webhook-models table names their object
 * "Subscription" (developers.intercom.com, Webhooks › Webhook models › Contact topics) and shows
 * no payload; the description's only such object is `subscription_type` (`type: "subscription"`),
 * which names no contact. See DECISIONS.md "Subscription items".
 */
const SUBSCRIPTION_TOPICS: ReadonlySet<string> = new Set(['contact.subscribed', 'contact.unsubscribed']);

/** A Subscription item that names no contact (neither a Contact nor a wrapper with `contact`). */
export function isSubscriptionWithoutContact(topic: string, item: Record<string, unknown>): boolean {
  return SUBSCRIPTION_TOPICS.has(topic) && item.type === 'subscription' && !isRecord(item.contact);
}

/**
 * The contact of a contact.* item. Most topics send the Contact itself
 * (components.schemas.contact, or contact_deleted / contact_archived references);
 * tag topics send a `contact_tag` wrapper `{ type, created_at, tag, contact }`;
 * any other wrapper with a `contact` object (a Subscription of contact.subscribed) is read the same way.
 */
export function contactOfItem(item: Record<string, unknown>): Loose<IntercomContact> {
  if (isRecord(item.contact)) return item.contact as Loose<IntercomContact>;
  if (
    item.type !== undefined &&
    item.type !== null &&
    !(typeof item.type === 'string' && CONTACT_TYPES.has(item.type))
  ) {
    throw new MappingError(`expected a contact in data.item, got type ${String(item.type)}`, 'invalid_payload');
  }
  return item as Loose<IntercomContact>;
}

/** The tag of a contact_tag item (components.schemas.tag). */
export function tagOfItem(item: Record<string, unknown>): Loose<IntercomTag> | undefined {
  return isRecord(item.tag) ? (item.tag as Loose<IntercomTag>) : undefined;
}

export function mapContactTopic(
  n: IntercomNotificationInput,
  item: Record<string, unknown>,
  lookups: Lookups,
  options: MappingOptions,
): MapOutcome {
  // Nothing to upsert without a contact; the change still reaches Klaviyo with that contact's next
  // contact.* notification or directory fetch (Intercom_unsubscribed_from_emails).
  if (isSubscriptionWithoutContact(n.topic, item))
    return { kind: 'skip', reason: `${n.topic}: subscription item names no contact` };
  const payloadContact = contactOfItem(item);
  const id = idString(payloadContact.id);
  if (id === undefined) throw new MappingError(`${n.topic}: contact has no id`, 'missing_field');

  if (n.topic === 'contact.deleted') return deletion(n, id, payloadContact, lookups, options);
  if (n.topic === 'contact.archived') {
    if (!options.deleteOnArchive) return { kind: 'skip', reason: 'contact.archived: deleteOnArchive is off' };
    return deletion(n, id, payloadContact, lookups, options);
  }

  if (lookups.contactDeleted(id)) return { kind: 'skip', reason: `contact ${id} deleted` };

  // A contact_tag (or another wrapper) may carry a partial contact: what it lacks comes
  // from the directory; what it has wins (it is the newer state).
  const known = lookups.contact(id);
  if (isPartialContact(payloadContact) && !known)
    return { kind: 'pending', reason: `contact ${id} unknown to directory`, contactId: id };
  const contact: Loose<IntercomContact> = known ? { ...known, ...definedOnly(payloadContact) } : payloadContact;
  let change: TagChange | undefined;
  const tagMatch = TAG_TOPIC.exec(n.topic);
  if (tagMatch) {
    const tag = tagOfItem(item);
    const tagId = idString(tag?.id);
    const tagName = optionalString(tag?.name) ?? (tagId ? optionalString(lookups.tagName(tagId)) : undefined);
    change = {
      op: tagMatch[1] === 'created' ? 'add' : 'remove',
      ...(tagId ? { id: tagId } : {}),
      ...(tagName ? { name: tagName } : {}),
    };
  }

  const { record, notes } = contactProfile(
    contact,
    lookups,
    { notificationId: n.notificationId, backfill: n.source === 'backfill' },
    options,
    change,
  );
  if (record.email === undefined && record.phone_number === undefined) {
    // Klaviyo needs an identifier to upsert; a later contact.email.updated brings the profile.
    return { kind: 'skip', reason: `contact ${id} has no email and no E.164 phone` };
  }
  return { kind: 'records', records: [record], notes };
}

/**
 * contact.deleted (and contact.archived when configured) → a Klaviyo data privacy
 * deletion request (Request Profile Deletion takes an email or a phone number).
 * Identifiers come from the payload, else the directory; the transformer also
 * tombstones the contact. requested_at is the notification's created_at in ms, so a
 * replay produces the same record. Without any identifier it is pending: it then ends
 * in the dead-letter topic with the reason rather than vanishing.
 */
function deletion(
  n: IntercomNotificationInput,
  id: string,
  payloadContact: Loose<IntercomContact>,
  lookups: Lookups,
  options: MappingOptions,
): MapOutcome {
  const known = lookups.contact(id);
  const notes: string[] = [];
  const email = optionalString(payloadContact.email)?.trim() ?? optionalString(known?.email)?.trim();
  const rawPhone = optionalString(payloadContact.phone) ?? optionalString(known?.phone);
  const phone = toE164(rawPhone, options.defaultPhoneRegion);
  if (rawPhone !== undefined && phone === undefined) notes.push('phone_not_e164');
  if (!email && !phone)
    return { kind: 'pending', reason: `${n.topic}: contact ${id} has no known email or E.164 phone`, contactId: id };
  const record: KlaviyoDeletionRecord = {
    kind: 'deletion',
    intercom_contact_id: id,
    ...(email ? { email } : {}),
    ...(phone ? { phone_number: phone } : {}),
    requested_at: n.createdAt * 1000,
    source_notification_id: n.notificationId,
  };
  return { kind: 'records', records: [record], notes };
}

/** A bare reference ({type, id}) rather than a Contact: none of the fields a Contact always has. */
export function isPartialContact(contact: Loose<IntercomContact>): boolean {
  return !('email' in contact) && !('phone' in contact) && !('role' in contact) && !('name' in contact);
}

function definedOnly(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}
