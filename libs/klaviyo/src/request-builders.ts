/**
 * Pure record → JSON:API request body mappings for the Klaviyo operations in
 * contracts/klaviyo/*.json (the revision KLAVIYO_REVISION of @iks/domain). No I/O; every body is checked against the
 * contract in request-builders.spec.ts.
 *
 * Absent fields are left out rather than sent as null: Create or Update Profile documents that
 * "setting a field to null will clear out the field, whereas not including a field in your
 * request will leave it unchanged".
 */
import type { KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord, ProfileIdentifiers } from '@iks/domain';
import { e164OrUndefined } from './phone';

/** Profile identifiers Klaviyo will accept: email, and phone only when E.164 (else dropped). */
export function sanitizeIdentifiers(p: ProfileIdentifiers): { email?: string; phone_number?: string } {
  const out: { email?: string; phone_number?: string } = {};
  const email = p.email?.trim();
  if (email) out.email = email;
  const phone = e164OrUndefined(p.phone_number?.trim());
  if (phone) out.phone_number = phone;
  return out;
}

export function hasIdentifier(p: { email?: string; phone_number?: string }): boolean {
  return Boolean(p.email || p.phone_number);
}

function metric(name: string) {
  return { data: { type: 'metric' as const, attributes: { name } } };
}

/** Attributes shared by Create Event and a Bulk Create Events entry's event. */
function eventAttributes(r: KlaviyoEventRecord) {
  return {
    properties: r.properties ?? {},
    time: r.time,
    unique_id: r.unique_id,
    metric: metric(r.metric),
    // The contracts' revision has `backfill`: "When true, the event is recorded but does NOT trigger
    // flows. Use this when backfilling historical events". Sent only when true (default false).
    ...(r.backfill ? { backfill: true } : {}),
  };
}

/**
 * One `event-bulk-create` entry (EventsBulkCreateQueryResourceObject) holding exactly one event,
 * so that an error pointer `/data/attributes/events-bulk-create/data/<i>/...` names one record.
 */
export function buildBulkEventEntry(r: KlaviyoEventRecord) {
  return {
    type: 'event-bulk-create' as const,
    attributes: {
      profile: { data: { type: 'profile' as const, attributes: sanitizeIdentifiers(r.profile) } },
      events: { data: [{ type: 'event' as const, attributes: eventAttributes(r) }] },
      ...(r.backfill ? { backfill: true } : {}),
    },
  };
}
export type BulkEventEntry = ReturnType<typeof buildBulkEventEntry>;

/** POST /api/event-bulk-create-jobs (bulk_create_events): up to 1,000 events, 5 MB. */
export function buildBulkCreateEventsBody(entries: readonly BulkEventEntry[]) {
  return {
    data: {
      type: 'event-bulk-create-job' as const,
      attributes: { 'events-bulk-create': { data: [...entries] } },
    },
  };
}

/** Bytes of the bulk envelope around the entries (entries are comma-joined inside it). */
export const BULK_ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify(buildBulkCreateEventsBody([])));

/** POST /api/events (create_event): one event, the fallback when a bulk request must be split. */
export function buildCreateEventBody(r: KlaviyoEventRecord) {
  return {
    data: {
      type: 'event' as const,
      attributes: {
        ...eventAttributes(r),
        profile: { data: { type: 'profile' as const, attributes: sanitizeIdentifiers(r.profile) } },
      },
    },
  };
}

/** Profile attributes for profile-import and bulk import (ProfileUpsertQueryResourceObject). */
export function buildProfileAttributes(r: KlaviyoProfileRecord) {
  const attrs: Record<string, unknown> = { ...sanitizeIdentifiers(r) };
  if (r.first_name !== undefined) attrs.first_name = r.first_name;
  if (r.last_name !== undefined) attrs.last_name = r.last_name;
  if (r.image !== undefined) attrs.image = r.image;
  if (r.location) {
    const loc: Record<string, string> = {};
    if (r.location.city !== undefined) loc.city = r.location.city;
    if (r.location.country !== undefined) loc.country = r.location.country;
    if (r.location.region !== undefined) loc.region = r.location.region;
    if (Object.keys(loc).length) attrs.location = loc;
  }
  if (r.properties && Object.keys(r.properties).length) attrs.properties = r.properties;
  return attrs as {
    email?: string;
    phone_number?: string;
    first_name?: string;
    last_name?: string;
    image?: string;
    location?: { city?: string; country?: string; region?: string };
    properties?: Record<string, unknown>;
  };
}

/** POST /api/profile-import (create_or_update_profile). */
export function buildProfileImportBody(r: KlaviyoProfileRecord) {
  return { data: { type: 'profile' as const, attributes: buildProfileAttributes(r) } };
}

export type DeletionIdentifier = { readonly email: string } | { readonly phone_number: string };

/**
 * The one identifier a deletion request carries: request_profile_deletion "will return an error"
 * if more than one is given. Email first; the phone only if E.164. Undefined if neither.
 */
export function deletionIdentifier(
  r: Pick<KlaviyoDeletionRecord, 'email' | 'phone_number'>,
): DeletionIdentifier | undefined {
  const ids = sanitizeIdentifiers(r);
  if (ids.email) return { email: ids.email };
  if (ids.phone_number) return { phone_number: ids.phone_number };
  return undefined;
}

/** POST /api/data-privacy-deletion-jobs (request_profile_deletion). */
export function buildProfileDeletionBody(id: DeletionIdentifier) {
  return {
    data: {
      type: 'data-privacy-deletion-job' as const,
      attributes: { profile: { data: { type: 'profile' as const, attributes: { ...id } } } },
    },
  };
}
