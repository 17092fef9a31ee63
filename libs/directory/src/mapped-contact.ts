import type { IntercomContact } from '@iks/mapping';

/**
 * The fields of an Intercom Contact the mapping reads (docs/MAPPING.md "Profiles" and the event
 * identifiers; libs/mapping/src/contact-profile.mapper.ts). The local store keeps only these:
 * a REST Contact is ~1.6 KB of JSON, these ~0.6 KB. The topic keeps the whole contact, so a
 * mapping that needs another field bumps STORE_FORMAT and every store is rebuilt from it.
 * mapped-contact.spec.ts checks the mapping gives the same records from either form.
 */
export const MAPPED_CONTACT_FIELDS = [
  'type', 'id', 'external_id', 'role', 'email', 'phone', 'name', 'avatar', 'location',
  'has_hard_bounced', 'marked_email_as_spam', 'unsubscribed_from_emails', 'custom_attributes', 'tags',
  'created_at', 'updated_at',
] as const;

/** The contact's JSON with only the mapped fields (null and absent ones left out: the mapping treats them alike). */
export function mappedContactJson(contactJson: string): string {
  const contact = JSON.parse(contactJson) as IntercomContact;
  const out: Record<string, unknown> = {};
  for (const field of MAPPED_CONTACT_FIELDS) if (contact[field] !== undefined && contact[field] !== null) out[field] = contact[field];
  return JSON.stringify(out);
}
