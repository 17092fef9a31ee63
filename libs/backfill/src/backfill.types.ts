import type { RawNotification } from '@iks/domain';

export type BackfillKind = 'contacts' | 'conversations' | 'tickets';
/** Contacts first, so the contact directory knows a person before their conversations arrive. */
export const BACKFILL_KINDS: readonly BackfillKind[] = ['contacts', 'conversations', 'tickets'];

export interface BackfillRecord {
  readonly notification: RawNotification;
  /** Same partitioning as the webhook path: entityKey(envelope). */
  readonly key: string;
}
