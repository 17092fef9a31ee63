import type { IntercomTicketAnyVersion, IntercomTicketPart, Loose } from '@iks/intercom';
import { toUnixSeconds } from './iso-time.util';
import { asArray, isRecord, optionalString } from './value.util';

/**
 * The ticket's current state category. API 2.12+ sends `ticket_state` as an object
 * (components.schemas.ticket_state, `category`); API 2.11 sends the category as a
 * string beside `ticket_state_internal_label`. Both are accepted.
 */
export function ticketStateCategory(ticket: Loose<IntercomTicketAnyVersion>): string | undefined {
  const state = ticket.ticket_state;
  if (typeof state === 'string') return optionalString(state)?.trim();
  if (isRecord(state)) return optionalString(state.category)?.trim();
  return undefined;
}

/**
 * MAPPING.md: `t` is the created_at of the newest ticket part that changed the state to
 * the category (its `ticket_state` is the category and its `previous_ticket_state` is
 * not); else the ticket's `updated_at`. "Newest" = greatest created_at, ties to the later
 * part in the list. Returns undefined when neither exists.
 */
export function stateChangeTime(ticket: Loose<IntercomTicketAnyVersion>, category: string): number | undefined {
  let best: number | undefined;
  const parts = isRecord(ticket.ticket_parts)
    ? asArray<Loose<IntercomTicketPart>>(ticket.ticket_parts.ticket_parts)
    : [];
  for (const part of parts) {
    if (!isRecord(part)) continue;
    if (part.ticket_state !== category || part.previous_ticket_state === category) continue;
    const at = toUnixSeconds(part.created_at);
    if (at !== undefined && (best === undefined || at >= best)) best = at;
  }
  return best ?? toUnixSeconds(ticket.updated_at);
}
