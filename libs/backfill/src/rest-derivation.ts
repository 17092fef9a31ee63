import { entityKey, type IntercomEnvelope, type NotificationSource } from '@iks/domain';
import type { IntercomObject } from '@iks/intercom';
import type { MetricKey } from '@iks/mapping';
import type { BackfillKind, BackfillRecord } from './backfill.types';

/**
 * One derivation from Intercom's REST objects to the webhook notifications Intercom would have
 * sent for them, shared by `backfill` and `reconcile` (issue #12). Input: a conversation as
 * GET /conversations/{id} answers it (with conversation_parts), a ticket as GET /tickets/{id}
 * answers it (with ticket_parts), a contact as search answers it.
 *
 * Each derived notification carries, as its body, the object as the webhook would have shown it
 * at that moment as far as REST can tell: the parts list is cut after the part the notification
 * is about (so the mapping's "newest contact part" / "newest part that changed the state" picks
 * that part, as it did in the webhook's payload); every other field is the object as it is now.
 * The unique_ids the transformer then computes equal the webhook path's (docs/MAPPING.md
 * "unique_id and time"), which is what makes a heal or an overlapping backfill free of doubles.
 *
 * Rules (libs/mapping/DECISIONS.md, "Derivation from REST"):
 * - Conversation Created: only for a conversation a contact started (`source.author.type`
 *   user/lead): Intercom sends conversation.user.created for those only.
 * - Replied to Conversation / Ticket: one per contact-authored part (author user/lead/contact)
 *   that is a message (part_type `comment`, or a non-empty body); a ticket part that records a
 *   state (the creation comment) is not a reply.
 * - Conversation Rated: the rating the conversation holds now (an earlier, replaced rating is
 *   not in REST).
 * - Ticket Created: every ticket.
 * - Ticket Submitted / Marked as Waiting / Resolved: one per ticket part that moved the ticket
 *   into the category (`previous_ticket_state` present and different): a ticket created in a
 *   state has no state change webhook for it.
 * - Read Conversation: NOT derived. Its unique_id is the webhook's notification id, which REST
 *   does not hold; any id made up here would differ from the webhook's and Klaviyo would keep
 *   both. A read missed by the webhooks stays missed (and is reported as not reconcilable).
 * - Intercom returns at most the 500 most recent conversation parts (2.14 "Retrieve a
 *   conversation", "Hard limit of 500 parts"): when `total_count` says more exist, the older
 *   parts' replies and state changes cannot be derived; `truncated` says so.
 */

export interface DerivedNotification extends BackfillRecord {
  /** unix seconds: when it happened in Intercom (the Klaviyo event time). */
  readonly at: number;
  /** The metric and unique_id the transformer will give it (docs/MAPPING.md), or null for a contact. */
  readonly expected: { readonly metric: MetricKey; readonly uniqueId: string } | null;
}

export interface Derivation {
  readonly notifications: DerivedNotification[];
  /** Intercom answered fewer parts than the object has (500 most recent). */
  readonly truncated: boolean;
}

export interface DeriveOptions {
  readonly appId: string;
  readonly source: NotificationSource;
  /** unix ms, the record's received_at */
  readonly receivedAt?: number;
  /** Keep only what happened in [since, until) (unix seconds). */
  readonly window?: { readonly since: number; readonly until: number };
}

const CONTACT_AUTHORS = new Set(['user', 'lead', 'contact']);
const STATE_METRICS: Record<string, MetricKey> = {
  submitted: 'ticketSubmitted',
  waiting_on_customer: 'ticketMarkedAsWaiting',
  resolved: 'ticketResolved',
};

type Part = Record<string, unknown>;

export function deriveNotifications(kind: BackfillKind, item: IntercomObject, options: DeriveOptions): Derivation {
  const out: DerivedNotification[] = [];
  const id = String(item.id);
  const receivedAt = options.receivedAt ?? Date.now();
  const add = (
    topic: string,
    suffix: string,
    at: number,
    body: IntercomObject,
    expected: DerivedNotification['expected'],
  ) => {
    if (options.window && (at < options.window.since || at >= options.window.until)) return;
    const notificationId = `${options.source}:${singular(kind)}:${id}:${suffix}`;
    out.push({ ...record(notificationId, topic, options, at, body, receivedAt), at, expected });
  };

  switch (kind) {
    case 'contacts': {
      // created by role, the contact as it is now (an upsert)
      const topic = item.role === 'lead' ? 'contact.lead.created' : 'contact.user.created';
      add(
        topic,
        `created:${seconds(item.updated_at) ?? 0}`,
        seconds(item.created_at) ?? seconds(item.updated_at) ?? 0,
        item,
        null,
      );
      return { notifications: out, truncated: false };
    }
    case 'conversations': {
      const { parts, truncated } = partsOf(item, 'conversation_parts');
      const created = seconds(item.created_at) ?? 0;
      const author = (item.source as { author?: { type?: unknown } } | null | undefined)?.author?.type;
      if (typeof author === 'string' && CONTACT_AUTHORS.has(author)) {
        add(
          'conversation.user.created',
          'created',
          created,
          snapshot(item, 'conversation_parts', parts, (p) => (seconds(p.created_at) ?? 0) <= created),
          {
            metric: 'conversationCreated',
            uniqueId: `intercom:conversation:${id}:created`,
          },
        );
      }
      for (const [i, p] of parts.entries()) {
        if (!isReply(p)) continue;
        const at = seconds(p.created_at)!;
        add(
          'conversation.user.replied',
          `part:${p.id}`,
          at,
          snapshot(item, 'conversation_parts', parts, upTo(parts, i)),
          {
            metric: 'repliedToConversation',
            uniqueId: `intercom:conversation:${id}:part:${String(p.id)}`,
          },
        );
      }
      const rating = item.conversation_rating as Part | null | undefined;
      const ratedAt = rating && typeof rating === 'object' ? seconds(rating.created_at) : undefined;
      if (ratedAt !== undefined) {
        add('conversation.rating.added', `rated:${ratedAt}`, ratedAt, item, {
          metric: 'conversationRated',
          uniqueId: `intercom:conversation:${id}:rated:${ratedAt}`,
        });
      }
      return { notifications: out, truncated };
    }
    case 'tickets': {
      const { parts, truncated } = partsOf(item, 'ticket_parts');
      const created = seconds(item.created_at) ?? 0;
      add(
        'ticket.created',
        'created',
        created,
        snapshot(item, 'ticket_parts', parts, (p) => (seconds(p.created_at) ?? 0) <= created),
        {
          metric: 'ticketCreated',
          uniqueId: `intercom:ticket:${id}:created`,
        },
      );
      for (const [i, p] of parts.entries()) {
        const at = seconds(p.created_at);
        if (p.id == null || at === undefined) continue;
        const state = typeof p.ticket_state === 'string' ? p.ticket_state : undefined;
        const previous = typeof p.previous_ticket_state === 'string' ? p.previous_ticket_state : undefined;
        if (state && previous && previous !== state && STATE_METRICS[state]) {
          const body = {
            ...snapshot(item, 'ticket_parts', parts, upTo(parts, i)),
            ticket_state: stateAs(item.ticket_state, state),
          };
          add('ticket.state.updated', `state:${state}:${at}`, at, body, {
            metric: STATE_METRICS[state],
            uniqueId: `intercom:ticket:${id}:state:${state}:${at}`,
          });
        } else if (!state && isReply(p)) {
          add('ticket.contact.replied', `part:${p.id}`, at, snapshot(item, 'ticket_parts', parts, upTo(parts, i)), {
            metric: 'repliedToTicket',
            uniqueId: `intercom:ticket:${id}:part:${String(p.id)}`,
          });
        }
      }
      return { notifications: out, truncated };
    }
  }
}

/** A contact's message: contact-authored, a comment or a part with a body; needs an id and a time. */
function isReply(p: Part): boolean {
  const author = (p.author as { type?: unknown } | null | undefined)?.type;
  if (typeof author !== 'string' || !CONTACT_AUTHORS.has(author)) return false;
  if (p.id == null || seconds(p.created_at) === undefined) return false;
  return p.part_type === 'comment' || (typeof p.body === 'string' && p.body.trim() !== '');
}

function partsOf(
  item: IntercomObject,
  field: 'conversation_parts' | 'ticket_parts',
): { parts: Part[]; truncated: boolean } {
  const container = item[field] as Record<string, unknown> | null | undefined;
  const list =
    container && Array.isArray(container[field])
      ? (container[field] as unknown[]).filter((p): p is Part => !!p && typeof p === 'object')
      : [];
  const total = container && typeof container.total_count === 'number' ? container.total_count : list.length;
  return { parts: list, truncated: total > list.length };
}

/**
 * The parts at or before parts[i]: created earlier, or at the same second and not later in the
 * list (the mapping breaks a created_at tie toward the later part, DECISIONS.md "Replies").
 */
function upTo(parts: readonly Part[], i: number): (p: Part) => boolean {
  const at = seconds(parts[i].created_at) ?? 0;
  return (p) => {
    const t = seconds(p.created_at);
    if (t === undefined) return false;
    return t < at || (t === at && parts.indexOf(p) <= i);
  };
}

function snapshot(
  item: IntercomObject,
  field: 'conversation_parts' | 'ticket_parts',
  parts: readonly Part[],
  keep: (p: Part) => boolean,
): IntercomObject {
  const container = item[field] as Record<string, unknown> | null | undefined;
  if (!container) return item;
  return { ...item, [field]: { ...container, [field]: parts.filter(keep) } };
}

/** The payload's ticket_state for a past category: the object's own when it is that category. */
function stateAs(current: unknown, category: string): unknown {
  if (typeof current === 'string') return category;
  if (current && typeof current === 'object' && (current as { category?: unknown }).category === category)
    return current;
  return { type: 'ticket_state', category };
}

function record(
  notificationId: string,
  topic: string,
  options: DeriveOptions,
  createdAt: number,
  item: IntercomObject,
  receivedAt: number,
): BackfillRecord {
  const envelope = {
    type: 'notification_event' as const,
    id: notificationId,
    topic,
    app_id: options.appId,
    created_at: createdAt,
    delivery_attempts: 1,
    first_sent_at: null,
    data: { type: 'notification_event_data', item },
  };
  return {
    key: entityKey(envelope as IntercomEnvelope),
    notification: {
      notification_id: notificationId,
      topic,
      app_id: options.appId,
      created_at: createdAt,
      delivery_attempts: 1,
      first_sent_at: null,
      received_at: receivedAt,
      source: options.source,
      body: JSON.stringify(envelope),
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
