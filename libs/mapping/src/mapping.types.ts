import type { KlaviyoRecord } from '@iks/domain';
import type { MetricKey } from '@iks/domain';
import type { IntercomAdmin, IntercomContact, IntercomSubscriptionType, IntercomTeam, Loose } from '@iks/intercom';

/** What the transformer has after decoding the raw topic (intercom.notifications.v1). */
export interface IntercomNotificationInput {
  notificationId: string;
  topic: string;
  /** The notification's created_at, unix seconds. */
  createdAt: number;
  source: 'webhook' | 'backfill';
  /** The parsed notification JSON: Intercom's envelope with data.item (a JSON string is accepted too). */
  body: unknown;
}

/**
 * The directory port, filled BEFORE mapping (no I/O inside the mapping).
 * Ids are normalised to strings: a conversation's admin_assignee_id is an integer,
 * a ticket's a string, GET /admins returns strings.
 */
export interface Lookups {
  contact(id: string): Loose<IntercomContact> | undefined;
  /** Tombstoned by an earlier contact.deleted. */
  contactDeleted(id: string): boolean;
  admin(id: string): Loose<IntercomAdmin> | undefined;
  team(id: string): Loose<IntercomTeam> | undefined;
  tagName(id: string): string | undefined;
  subscriptions(contactId: string): Loose<IntercomSubscriptionType>[] | undefined;
}

export interface MappingOptions {
  /** Rename metrics; defaults are the MAPPING.md names (METRICS). */
  metricNames?: Partial<Record<MetricKey, string>>;
  /** contact.archived → Klaviyo deletion request (default false). */
  deleteOnArchive?: boolean;
  /** ISO 3166 country for phones written without +CC; default none (they are then not E.164-able and omitted). */
  defaultPhoneRegion?: string;
}

export type MapOutcome =
  | { kind: 'records'; records: KlaviyoRecord[]; notes: string[] }
  | { kind: 'skip'; reason: string }
  | { kind: 'pending'; reason: string; contactId?: string };

export interface RequiredLookups {
  contactIds: string[];
  adminIds: string[];
  teamIds: string[];
  tagIds: string[];
  subscriptionContactIds: string[];
}
