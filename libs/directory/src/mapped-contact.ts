/**
 * The fields of an Intercom Contact the mapping reads (docs/MAPPING.md "Profiles" and the event
 * identifiers; libs/mapping/src/contact-profile.mapper.ts). The local store keeps only these:
 * a REST Contact is ~1.6 KB of JSON, these ~0.4 KB. The topic keeps the whole contact, so a
 * mapping that needs another field bumps STORE_FORMAT and every store is rebuilt from it.
 * mapped-contact.spec.ts checks the mapping gives the same records from either form.
 */
export const MAPPED_CONTACT_FIELDS = [
  'type',
  'id',
  'external_id',
  'role',
  'email',
  'phone',
  'name',
  'avatar',
  'location',
  'has_hard_bounced',
  'marked_email_as_spam',
  'unsubscribed_from_emails',
  'custom_attributes',
  'tags',
  'created_at',
  'updated_at',
] as const;

/**
 * The contact's JSON with only the mapped fields (null and absent ones left out: the mapping
 * treats them alike); inside avatar, location and tags, only what the mapping reads (the image
 * URL; city, country, region; each tag's id and name).
 */
export function mappedContactJson(contactJson: string): string {
  const contact = JSON.parse(contactJson) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of MAPPED_CONTACT_FIELDS) {
    const v =
      field === 'avatar'
        ? pick(contact.avatar, ['image_url'])
        : field === 'location'
          ? pick(contact.location, ['city', 'country', 'region'])
          : field === 'tags'
            ? tagRefs(contact.tags)
            : contact[field];
    if (v !== undefined && v !== null) out[field] = v;
  }
  return JSON.stringify(out);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The named keys of an object (null ones left out); a value that is not an object stays as it is. */
function pick(v: unknown, keys: readonly string[]): unknown {
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (v[k] !== undefined && v[k] !== null) out[k] = v[k];
  return out;
}

/** A REST Contact's `tags.data[]` or an older payload's `tags.tags[]`, each tag as id and name. */
function tagRefs(v: unknown): unknown {
  if (!isRecord(v)) return v;
  for (const list of ['data', 'tags'] as const) {
    if (Array.isArray(v[list])) return { [list]: (v[list] as unknown[]).map((t) => pick(t, ['id', 'name'])) };
  }
  return {};
}
