import type { IntercomTicketAnyVersion, Loose } from '@iks/intercom';
import type { IntercomNotificationInput, Lookups, MapOutcome, MappingOptions } from './mapping.types';
import { newestContactPart } from './contact-reply.util';
import { resolveEventContact, ticketContactId } from './event-contact.resolver';
import { eventRecord } from './event-record.factory';
import { toUnixSeconds } from './iso-time.util';
import { MappingError } from './mapping.error';
import { metricName, type MetricKey } from '@iks/domain';
import { ticketProperties, ticketResolvedProperties } from './ticket-properties.mapper';
import { stateChangeTime, ticketStateCategory } from './ticket-state.util';
import { asArray, idString, isRecord } from './value.util';

export const TICKET_TOPICS: ReadonlySet<string> = new Set([
  'ticket.created',
  'ticket.contact.replied',
  'ticket.state.updated',
  'ticket.resolved',
]);

/** MAPPING.md "Metrics": the new ticket_state.category decides the metric of ticket.state.updated. */
const STATE_METRICS: Readonly<Record<string, MetricKey>> = {
  submitted: 'ticketSubmitted',
  waiting_on_customer: 'ticketMarkedAsWaiting',
  resolved: 'ticketResolved',
};

export function asTicket(item: Record<string, unknown>): Loose<IntercomTicketAnyVersion> {
  if (item.type !== undefined && item.type !== null && item.type !== 'ticket') {
    throw new MappingError(`expected a ticket in data.item, got type ${String(item.type)}`, 'invalid_payload');
  }
  if (idString(item.id) === undefined) throw new MappingError('ticket has no id', 'missing_field');
  return item as Loose<IntercomTicketAnyVersion>;
}

export function mapTicketEvent(
  n: IntercomNotificationInput,
  item: Record<string, unknown>,
  lookups: Lookups,
  options: MappingOptions,
): MapOutcome {
  const ticket = asTicket(item);
  const id = idString(ticket.id) as string;
  const base = `intercom:ticket:${id}`;

  // Decide the metric first: a state we do not map is skipped before any lookup matters.
  let key: MetricKey;
  let uniqueId: string | undefined;
  let time: number | undefined;
  switch (n.topic) {
    case 'ticket.created':
      key = 'ticketCreated';
      uniqueId = `${base}:created`;
      time = toUnixSeconds(ticket.created_at) ?? n.createdAt;
      break;
    case 'ticket.contact.replied': {
      key = 'repliedToTicket';
      const parts = isRecord(ticket.ticket_parts) ? asArray<unknown>(ticket.ticket_parts.ticket_parts) : [];
      const part = newestContactPart(parts);
      uniqueId = `${base}:part:${part ? part.id : n.notificationId}`;
      time = part ? part.createdAt : n.createdAt;
      break;
    }
    case 'ticket.resolved':
    case 'ticket.state.updated': {
      // ticket.resolved is the resolution itself, whatever state the payload shows.
      const category = n.topic === 'ticket.resolved' ? 'resolved' : ticketStateCategory(ticket);
      if (category === undefined)
        throw new MappingError(`ticket ${id}: ${n.topic} without ticket_state`, 'missing_field');
      const stateKey = STATE_METRICS[category];
      if (!stateKey) return { kind: 'skip', reason: `ticket state ${category} not mapped` };
      key = stateKey;
      // Both topics of one resolution compute the same t, hence one unique_id.
      const t = stateChangeTime(ticket, category) ?? n.createdAt;
      uniqueId = `${base}:state:${category}:${t}`;
      time = t;
      break;
    }
    default:
      return { kind: 'skip', reason: `unmapped topic ${n.topic}` };
  }

  const contact = resolveEventContact(ticketContactId(ticket), lookups, options.defaultPhoneRegion);
  if (contact.kind !== 'identified') return contact;
  const properties =
    key === 'ticketResolved'
      ? ticketResolvedProperties(ticket, contact, lookups)
      : ticketProperties(ticket, contact, lookups);
  const record = eventRecord({ n, metric: metricName(key, options.metricNames), contact, properties, time, uniqueId });
  return { kind: 'records', records: [record], notes: [...contact.notes] };
}
