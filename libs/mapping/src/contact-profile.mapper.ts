import type { KlaviyoProfileRecord, ProfileLocation } from '@iks/domain';
import type { IntercomAddressable, IntercomContact, IntercomSubscriptionType, Loose } from '@iks/intercom';
import type { Lookups, MappingOptions } from './mapping.types';
import { toE164 } from './e164.util';
import { toUnixSeconds } from './iso-time.util';
import { MappingError } from './mapping.error';
import { asArray, idString, isRecord, optionalBoolean, optionalString, setIfPresent } from './value.util';

export interface ProfileMeta {
  notificationId: string;
  backfill: boolean;
}

/** A change to the contact's tag list carried by contact.*.tag.created / .deleted. */
export interface TagChange {
  op: 'add' | 'remove';
  id?: string;
  name?: string;
}

/**
 * Intercom Contact → Klaviyo profile upsert (MAPPING.md "Profiles"), for contact.*
 * topics and for every contact fetched into the directory.
 */
export function mapContactToProfile(
  contact: Loose<IntercomContact>,
  lookups: Lookups,
  meta: ProfileMeta,
  options: MappingOptions = {},
): KlaviyoProfileRecord {
  return contactProfile(contact, lookups, meta, options).record;
}

/** As mapContactToProfile, with the notes (dropped phone, unknown tag names). */
export function contactProfile(
  contact: Loose<IntercomContact>,
  lookups: Lookups,
  meta: ProfileMeta,
  options: MappingOptions = {},
  tagChange?: TagChange,
): { record: KlaviyoProfileRecord; notes: string[] } {
  const id = idString(contact.id);
  if (id === undefined) throw new MappingError('contact has no id', 'missing_field');
  const notes: string[] = [];
  const out: Record<string, unknown> = { kind: 'profile', intercom_contact_id: id };

  setIfPresent(out, 'email', optionalString(contact.email)?.trim());
  const rawPhone = optionalString(contact.phone);
  const phone = toE164(rawPhone, options.defaultPhoneRegion);
  if (rawPhone !== undefined && phone === undefined) notes.push('phone_not_e164');
  setIfPresent(out, 'phone_number', phone);

  const { first, last } = splitName(contact.name);
  setIfPresent(out, 'first_name', first);
  setIfPresent(out, 'last_name', last);
  setIfPresent(out, 'image', optionalString(isRecord(contact.avatar) ? contact.avatar.image_url : undefined));
  const location = profileLocation(contact.location);
  if (location) out.location = location;

  const properties: Record<string, unknown> = {};
  properties['Intercom Contact ID'] = id;
  setIfPresent(properties, 'Contact Role', optionalString(contact.role));
  setIfPresent(properties, 'Intercom_has_hard_bounced', optionalBoolean(contact.has_hard_bounced));
  setIfPresent(properties, 'Intercom_marked_email_as_spam', optionalBoolean(contact.marked_email_as_spam));
  setIfPresent(properties, 'Intercom_unsubscribed_from_emails', optionalBoolean(contact.unsubscribed_from_emails));
  setIfPresent(properties, 'Intercom_opted_in_subscription_types_count', optedInCount(lookups.subscriptions(id)));
  if (isRecord(contact.custom_attributes)) properties['Intercom_custom_attributes'] = contact.custom_attributes;
  const tags = contactTagNames(contact, lookups, tagChange, notes);
  if (tags !== undefined) properties['Intercom_tags'] = tags;
  out.properties = properties;

  out.updated_at = toUnixSeconds(contact.updated_at) ?? null;
  out.backfill = meta.backfill;
  out.source_notification_id = meta.notificationId;
  return { record: out as unknown as KlaviyoProfileRecord, notes };
}

/** `name` up to its first space → first_name, after it → last_name (MAPPING.md). Surrounding blanks are trimmed. */
export function splitName(name: unknown): { first?: string; last?: string } {
  const full = optionalString(name)?.trim();
  if (!full) return {};
  const space = full.indexOf(' ');
  if (space < 0) return { first: full };
  const last = full.slice(space + 1).trim();
  return { first: full.slice(0, space), ...(last ? { last } : {}) };
}

function profileLocation(location: Loose<IntercomContact>['location']): ProfileLocation | undefined {
  if (!isRecord(location)) return undefined;
  const out: Record<string, string> = {};
  setIfPresent(out, 'city', optionalString(location.city));
  setIfPresent(out, 'country', optionalString(location.country));
  setIfPresent(out, 'region', optionalString(location.region));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Number of subscription types with consent_type opt_in; undefined when the directory does not know them. */
function optedInCount(subscriptions: Loose<IntercomSubscriptionType>[] | undefined): number | undefined {
  if (!Array.isArray(subscriptions)) return undefined;
  return subscriptions.filter((s) => isRecord(s) && s.consent_type === 'opt_in').length;
}

/**
 * A Contact carries tag ids only (components.schemas.contact_tags → addressable_list);
 * names come from the directory (GET /tags) or from the tag of a tag notification. An
 * id without a known name is left out and noted. No tag list on the contact → undefined
 * (the property is not sent, so Klaviyo keeps what it has).
 */
function contactTagNames(
  contact: Loose<IntercomContact>,
  lookups: Lookups,
  change: TagChange | undefined,
  notes: string[],
): string[] | undefined {
  const list = contactTagRefs(contact);
  if (list === undefined) return undefined;
  const names: string[] = [];
  for (const ref of list) {
    if (!isRecord(ref)) continue;
    const id = idString(ref.id);
    if (id === undefined) continue;
    if (change?.op === 'remove' && change.id === id) continue;
    const name =
      change?.id === id && change.name
        ? change.name
        : (optionalString(ref.name) ?? optionalString(lookups.tagName(id)));
    if (name === undefined) {
      if (!notes.includes('tag_name_unknown')) notes.push('tag_name_unknown');
      continue;
    }
    if (!names.includes(name)) names.push(name);
  }
  if (change?.op === 'add' && change.name && !names.includes(change.name)) names.push(change.name);
  if (change?.op === 'remove' && change.name) return names.filter((n) => n !== change.name);
  return names;
}

/**
 * The tag references of a contact: the REST Contact's `tags.data[]` (ids only,
 * components.schemas.contact_tags), or a `tag.list` `tags.tags[]` (ids and names) as
 * older payloads carry. undefined when the contact has no tag list.
 */
export function contactTagRefs(
  contact: Loose<IntercomContact>,
): (Loose<IntercomAddressable> & { name?: unknown })[] | undefined {
  const tags = contact.tags as Record<string, unknown> | null | undefined;
  if (!isRecord(tags)) return undefined;
  if (Array.isArray(tags.data)) return asArray(tags.data);
  if (Array.isArray(tags.tags)) return asArray(tags.tags);
  return undefined;
}
