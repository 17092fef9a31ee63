import type { IntercomTicketAnyVersion, Loose } from '@iks/intercom';
import type { Lookups } from './mapping.types';
import type { EventContact } from './event-contact.resolver';
import { assigneeNames } from './assignee.util';
import { toIso8601 } from './iso-time.util';
import { idString, isRecord, optionalBoolean, optionalNumber, optionalString, setIfPresent } from './value.util';

type Identified = Extract<EventContact, { kind: 'identified' }>;

/** MAPPING.md "Ticket metrics: Created, Submitted, Replied to Ticket, Marked as Waiting". */
export function ticketProperties(
  ticket: Loose<IntercomTicketAnyVersion>,
  contact: Identified,
  lookups: Lookups,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const names = assigneeNames(ticket.admin_assignee_id, ticket.team_assignee_id, lookups);
  const attributes = isRecord(ticket.ticket_attributes) ? ticket.ticket_attributes : undefined;
  setIfPresent(p, 'email', contact.email);
  setIfPresent(p, 'phone_number', contact.phoneNumber);
  setIfPresent(p, 'Category', optionalString(ticket.category));
  setIfPresent(p, 'Assigned Team', names.teamName);
  setIfPresent(p, 'Assigned Admin Name', names.adminName);
  setIfPresent(p, 'Assigned Admin Email', names.adminEmail);
  setIfPresent(p, 'Snoozed Until', toIso8601(ticket.snoozed_until));
  setIfPresent(
    p,
    'Ticket Parts Count',
    optionalNumber(isRecord(ticket.ticket_parts) ? ticket.ticket_parts.total_count : undefined),
  );
  setIfPresent(p, 'Ticket ID', idString(ticket.id));
  setIfPresent(p, 'Ticket Type', optionalString(isRecord(ticket.ticket_type) ? ticket.ticket_type.name : undefined));
  setIfPresent(p, 'Ticket Name', ticketAttribute(attributes, '_default_title_'));
  setIfPresent(p, 'Ticket Description', ticketAttribute(attributes, '_default_description_'));
  setIfPresent(p, 'Shared', optionalBoolean(ticket.is_shared));
  return p;
}

/** MAPPING.md "Ticket Resolved (its own names, as the source document gives them)". */
export function ticketResolvedProperties(
  ticket: Loose<IntercomTicketAnyVersion>,
  contact: Identified,
  lookups: Lookups,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const names = assigneeNames(ticket.admin_assignee_id, ticket.team_assignee_id, lookups);
  const attributes = isRecord(ticket.ticket_attributes) ? ticket.ticket_attributes : undefined;
  setIfPresent(p, 'Contact Email', contact.email);
  setIfPresent(p, 'Contact Phone', contact.phoneNumber);
  setIfPresent(p, 'Category', optionalString(ticket.category));
  setIfPresent(p, 'Team Name', names.teamName);
  setIfPresent(p, 'Admin Name', names.adminName);
  setIfPresent(p, 'Admin Email', names.adminEmail);
  setIfPresent(p, 'Ticket ID', idString(ticket.id));
  setIfPresent(p, 'Ticket Name', ticketAttribute(attributes, '_default_title_'));
  setIfPresent(p, 'Ticket Description', ticketAttribute(attributes, '_default_description_'));
  setIfPresent(p, 'Is Shared', optionalBoolean(ticket.is_shared));
  return p;
}

/** `ticket_attributes._default_title_` / `_default_description_`: free text, kept as given. */
function ticketAttribute(attributes: Record<string, unknown> | undefined, key: string): string | undefined {
  return optionalString(attributes?.[key]);
}
