/** The nine Klaviyo metrics of docs/MAPPING.md ("Metrics"), by key; names are the defaults. */
export const METRICS = {
  conversationCreated: 'Conversation Created',
  conversationRated: 'Conversation Rated',
  readConversation: 'Read Conversation',
  repliedToConversation: 'Replied to Conversation',
  ticketCreated: 'Ticket Created',
  ticketSubmitted: 'Ticket Submitted',
  repliedToTicket: 'Replied to Ticket',
  ticketMarkedAsWaiting: 'Ticket Marked as Waiting',
  ticketResolved: 'Ticket Resolved',
} as const;

export type MetricKey = keyof typeof METRICS;

export function metricName(key: MetricKey, overrides?: Partial<Record<MetricKey, string>>): string {
  const name = overrides?.[key];
  return typeof name === 'string' && name !== '' ? name : METRICS[key];
}
