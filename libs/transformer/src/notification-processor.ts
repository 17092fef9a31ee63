import type { ContactSnapshot, KlaviyoRecord, RawNotification } from '@iks/domain';
import {
  isContactTopic, mapContactToProfile, mapNotification, MappingError, requiredLookups,
  type IntercomContact, type IntercomNotificationInput, type MappingOptions,
} from '@iks/mapping';
import type { Directory } from '@iks/directory';

/** What one notification turns into (emmett style: an outcome, not a log line). */
export type ProcessOutcome =
  | { readonly kind: 'records'; readonly records: KlaviyoRecord[]; readonly snapshots: ContactSnapshot[]; readonly notes: string[] }
  | { readonly kind: 'skip'; readonly reason: string; readonly records: KlaviyoRecord[]; readonly snapshots: ContactSnapshot[] }
  | { readonly kind: 'pending'; readonly reason: string; readonly records: KlaviyoRecord[]; readonly snapshots: ContactSnapshot[] };

const TYPES_OF_CONTACT = new Set(['contact', 'user', 'lead']);

/**
 * One raw notification → Klaviyo records and directory snapshots. The I/O (directory
 * lookups through Intercom's REST API) happens in `directory.prepare` before the pure
 * mapping runs. Throws MappingError for a payload that cannot be mapped (→ dead letter).
 */
export async function processNotification(raw: RawNotification, directory: Directory, options: MappingOptions): Promise<ProcessOutcome> {
  let body: unknown;
  try {
    body = JSON.parse(raw.body);
  } catch (e) {
    throw new MappingError(`notification body is not JSON: ${(e as Error).message}`, 'invalid_payload');
  }
  const input: IntercomNotificationInput = {
    notificationId: raw.notification_id, topic: raw.topic, createdAt: raw.created_at, source: raw.source, body,
  };
  const backfill = raw.source === 'backfill';
  const snapshots: ContactSnapshot[] = [];
  const records: KlaviyoRecord[] = [];

  // contact.* notifications feed the directory first (unless the person was deleted).
  const item = (body as { data?: { item?: Record<string, any> } })?.data?.item;
  if (item && isContactTopic(raw.topic) && raw.topic !== 'contact.deleted' && raw.topic !== 'contact.archived') {
    if (item.tag && item.tag.id != null && typeof item.tag.name === 'string') directory.rememberTag(String(item.tag.id), item.tag.name);
    const isFullContact = item.id != null && TYPES_OF_CONTACT.has(String(item.type ?? 'contact')) && !item.contact;
    if (isFullContact && !directory.contactDeleted(String(item.id))) snapshots.push(directory.remember(item as IntercomContact));
  }

  const fetched = await directory.prepare(requiredLookups(input));
  const removing = raw.topic === 'contact.deleted' || raw.topic === 'contact.archived';
  for (const { contact, snapshot } of fetched) {
    snapshots.push(snapshot);
    // MAPPING.md: every contact fetched for the directory upserts the profile, unless it is
    // being deleted, or Klaviyo could not identify it (no email, no E.164 phone).
    if (removing) continue;
    const profile = mapContactToProfile(contact, directory, { notificationId: raw.notification_id, backfill }, options);
    if (profile.email || profile.phone_number) records.push(profile);
  }

  const outcome = mapNotification(input, directory, options);
  if (raw.topic === 'contact.deleted' && item?.id != null) snapshots.push(directory.tombstone(String(item.id)));

  if (outcome.kind === 'records') return { kind: 'records', records: [...records, ...outcome.records], snapshots, notes: outcome.notes };
  return { kind: outcome.kind, reason: outcome.reason, records, snapshots };
}
