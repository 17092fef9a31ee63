import { type RawNotification, entityKey, type IntercomEnvelope } from '@iks/domain';
import type { IntercomObject } from '@iks/intercom';

export type BackfillKind = 'contacts' | 'conversations' | 'tickets';
/** Contacts first, so the contact directory knows a person before their conversations arrive. */
export const BACKFILL_KINDS: readonly BackfillKind[] = ['contacts', 'conversations', 'tickets'];

export interface BackfillRecord {
  readonly notification: RawNotification;
  /** Same partitioning as the webhook path: entityKey(envelope). */
  readonly key: string;
}

/** ticket_state categories that have a Klaviyo metric (MAPPING.md, Metrics). */
const MAPPED_STATES = new Set(['submitted', 'waiting_on_customer', 'resolved']);

/**
 * One object from a REST search → the webhook notification(s) Intercom would have sent for
 * it, as full envelopes, so the transformer reads backfill and webhooks alike. Ids are
 * deterministic (`backfill:<kind>:<id>:…`) so a re-run writes the same records.
 *
 * unique_ids (MAPPING.md, "unique_id and time") the transformer will derive from these:
 * - Conversation Created `intercom:conversation:{id}:created` and Ticket Created
 *   `intercom:ticket:{id}:created`: the same as the webhook path (only ids).
 * - Conversation Rated `…:rated:{conversation_rating.created_at}`: the same, for the rating
 *   the conversation holds now; an earlier rating that was replaced cannot be recovered.
 * - Ticket state `…:state:{category}:{t}`: the same when the search answer carries the
 *   ticket_parts with the part that moved the ticket into its current category. When it does
 *   not (parts omitted or truncated, or the ticket was created in `submitted`, whose creation
 *   part has previous == current), t falls back to the ticket's updated_at, which differs from
 *   the webhook's t: the REST data cannot give the same id there. Only the current state is
 *   visible; earlier transitions are not backfilled.
 * - Read Conversation (uses the notification id) and Replied to Conversation / Ticket (need
 *   conversation_parts, absent from search results) are not backfilled at all.
 */
export function backfillNotifications(kind: BackfillKind, item: IntercomObject, appId: string, receivedAt = Date.now()): BackfillRecord[] {
  const id = String(item.id);
  const out: BackfillRecord[] = [];
  const add = (topic: string, suffix: string, createdAt: number) =>
    out.push(record(`backfill:${singular(kind)}:${id}:${suffix}`, topic, appId, createdAt, item, receivedAt));

  switch (kind) {
    case 'contacts': {
      // Intercom sends contact.user.created / contact.lead.created by role; the body is the
      // contact as it is now, so the id carries updated_at (a later run with newer data is a new record).
      const topic = item.role === 'lead' ? 'contact.lead.created' : 'contact.user.created';
      add(topic, `created:${seconds(item.updated_at) ?? 0}`, seconds(item.created_at) ?? seconds(item.updated_at) ?? 0);
      break;
    }
    case 'conversations': {
      add('conversation.user.created', 'created', seconds(item.created_at) ?? 0);
      const rating = item.conversation_rating as Record<string, unknown> | null | undefined;
      if (rating && typeof rating === 'object' && seconds(rating.created_at) !== undefined) {
        const t = seconds(rating.created_at)!;
        add('conversation.rating.added', `rated:${t}`, t);
      }
      break;
    }
    case 'tickets': {
      add('ticket.created', 'created', seconds(item.created_at) ?? 0);
      const category = ticketCategory(item);
      if (category && MAPPED_STATES.has(category)) {
        const t = stateChangeTime(item, category) ?? 0;
        add('ticket.state.updated', `state:${category}:${t}`, t);
      }
      break;
    }
  }
  return out;
}

function record(notificationId: string, topic: string, appId: string, createdAt: number, item: IntercomObject, receivedAt: number): BackfillRecord {
  const envelope = {
    type: 'notification_event' as const,
    id: notificationId,
    topic,
    app_id: appId,
    created_at: createdAt,
    delivery_attempts: 1,
    first_sent_at: null,
    data: { type: 'notification_event_data', item },
  };
  return {
    key: entityKey(envelope as IntercomEnvelope),
    notification: {
      notification_id: notificationId, topic, app_id: appId, created_at: createdAt, delivery_attempts: 1,
      first_sent_at: null, received_at: receivedAt, source: 'backfill', body: JSON.stringify(envelope),
    },
  };
}

function singular(kind: BackfillKind): string {
  return kind.slice(0, -1);
}

function seconds(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

/** ticket_state: an object with `category` from API 2.12 on, a string in 2.11. */
function ticketCategory(ticket: IntercomObject): string | undefined {
  const s = ticket.ticket_state as unknown;
  if (typeof s === 'string') return s;
  if (s && typeof s === 'object' && typeof (s as { category?: unknown }).category === 'string') return (s as { category: string }).category;
  return undefined;
}

/** MAPPING.md: created_at of the newest part that changed the state to `category`, else updated_at. */
function stateChangeTime(ticket: IntercomObject, category: string): number | undefined {
  const container = ticket.ticket_parts as { ticket_parts?: unknown } | undefined;
  const parts = container && Array.isArray(container.ticket_parts) ? (container.ticket_parts as Array<Record<string, unknown>>) : [];
  let best: number | undefined;
  for (const p of parts) {
    if (!p || p.ticket_state !== category || p.previous_ticket_state === category) continue;
    const at = seconds(p.created_at);
    if (at !== undefined && (best === undefined || at >= best)) best = at;
  }
  return best ?? seconds(ticket.updated_at);
}
