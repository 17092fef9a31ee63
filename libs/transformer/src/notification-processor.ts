import { withConnectionId } from '@iks/connections';
import { connectionOf, type ContactSnapshot, type KlaviyoRecord, type RawNotification } from '@iks/domain';
import {
  isContactTopic,
  mapContactToProfile,
  mapNotification,
  MappingError,
  requiredLookups,
  type IntercomNotificationInput,
  type MappingOptions,
} from '@iks/mapping';
import type { DirectoryView } from '@iks/directory';
import type { IntercomContact, Loose } from '@iks/intercom';

/** What one notification turns into (emmett style: an outcome, not a log line). */
export type ProcessOutcome =
  | {
      readonly kind: 'records';
      readonly records: KlaviyoRecord[];
      readonly snapshots: ContactSnapshot[];
      readonly notes: string[];
    }
  | {
      readonly kind: 'skip';
      readonly reason: string;
      readonly records: KlaviyoRecord[];
      readonly snapshots: ContactSnapshot[];
    }
  | {
      readonly kind: 'pending';
      readonly reason: string;
      readonly records: KlaviyoRecord[];
      readonly snapshots: ContactSnapshot[];
    };

const TYPES_OF_CONTACT = new Set(['contact', 'user', 'lead']);

/**
 * One raw notification → Klaviyo records and directory snapshots. The I/O (directory
 * lookups through Intercom's REST API) happens in `directory.prepare` before the pure
 * mapping runs. Throws MappingError for a payload that cannot be mapped (→ dead letter).
 */
/** Healed (`reconcile`) events that happened longer ago than this go as Klaviyo backfill (issue #12). */
export const RECONCILE_BACKFILL_AFTER_MS = 24 * 3600 * 1000;

/**
 * Whether a notification's events go with Klaviyo's `backfill: true` (no flows). `backfill`
 * always; `reconcile` (a heal of a gap the webhooks left) when what it heals happened more than
 * `reconcileBackfillAfterMs` before reconcile wrote it (created_at is the event time there):
 * a recent heal triggers flows as the webhook would have. received_at is in the record, so a
 * replay decides the same way.
 */
export function isBackfill(
  raw: Pick<RawNotification, 'source' | 'created_at' | 'received_at'>,
  reconcileBackfillAfterMs = RECONCILE_BACKFILL_AFTER_MS,
): boolean {
  if (raw.source === 'backfill') return true;
  if (raw.source === 'reconcile') return raw.received_at - raw.created_at * 1000 > reconcileBackfillAfterMs;
  return false;
}

/**
 * `directory` is the view of the notification's connection (Directory for the default one,
 * Directory.forConnection for another) and `options` that connection's settings; every record
 * and snapshot comes out tagged with the notification's connection_id (absent for the default).
 */
export async function processNotification(
  raw: RawNotification,
  directory: DirectoryView,
  options: MappingOptions,
  reconcileBackfillAfterMs = RECONCILE_BACKFILL_AFTER_MS,
): Promise<ProcessOutcome> {
  const connectionId = connectionOf(raw);
  if (directory.connectionId !== connectionId) {
    throw new Error(
      `notification of connection ${connectionId} mapped with the directory of connection ${directory.connectionId}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.body);
  } catch (e) {
    throw new MappingError(`notification body is not JSON: ${(e as Error).message}`, 'invalid_payload');
  }
  const backfill = isBackfill(raw, reconcileBackfillAfterMs);
  const input: IntercomNotificationInput = {
    notificationId: raw.notification_id,
    topic: raw.topic,
    createdAt: raw.created_at,
    source: backfill ? 'backfill' : 'webhook',
    body,
  };
  const snapshots: ContactSnapshot[] = [];
  const records: KlaviyoRecord[] = [];

  // contact.* notifications feed the directory first (unless the person was deleted).
  const item = (
    body as {
      data?: {
        item?: { id?: unknown; type?: unknown; contact?: unknown; tag?: { id?: unknown; name?: unknown } | null };
      };
    }
  )?.data?.item;
  if (item && isContactTopic(raw.topic) && raw.topic !== 'contact.deleted' && raw.topic !== 'contact.archived') {
    if (item.tag && item.tag.id != null && typeof item.tag.name === 'string')
      directory.rememberTag(String(item.tag.id), item.tag.name);
    const isFullContact = item.id != null && TYPES_OF_CONTACT.has(String(item.type ?? 'contact')) && !item.contact;
    if (isFullContact && !directory.contactDeleted(String(item.id)))
      snapshots.push(directory.remember(item as Loose<IntercomContact>));
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

  const tag = (r: KlaviyoRecord): KlaviyoRecord => withConnectionId(r, connectionId);
  if (outcome.kind === 'records') {
    const all = [...records, ...outcome.records];
    return { kind: 'records', records: all.map(tag), snapshots, notes: outcome.notes };
  }
  return { kind: outcome.kind, reason: outcome.reason, records: records.map(tag), snapshots };
}
