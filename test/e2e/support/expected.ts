/**
 * Expected Klaviyo-side values written from docs/MAPPING.md and the Intercom objects a test
 * built (not from the mapping code): one helper per table of the contract.
 */
import type { IntercomAdmin, IntercomContact, IntercomConversation, IntercomTeam, IntercomTicket } from '@iks/intercom';

/** MAPPING.md: unix seconds → `YYYY-MM-DDTHH:MM:SSZ`. */
export function iso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** "A property whose Intercom source is missing, null or an empty string is omitted". */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null || value === '') return;
  out[key] = value;
}

export interface Directory {
  admins: readonly IntercomAdmin[];
  teams: readonly IntercomTeam[];
}

const adminOf = (d: Directory, id: unknown) => d.admins.find((a) => String(a.id) === String(id));
const teamOf = (d: Directory, id: unknown) => d.teams.find((t) => String(t.id) === String(id));

/** "Conversation metrics (all four share these properties)". */
export function conversationProperties(
  c: IntercomConversation,
  contact: IntercomContact,
  phoneE164: string | undefined,
  d: Directory,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  put(p, 'email', contact.email);
  put(p, 'phone_number', phoneE164);
  put(p, 'Title', c.title);
  put(p, 'Snoozed Until', c.snoozed_until ? iso(c.snoozed_until) : null);
  put(p, 'Waiting Since', c.waiting_since ? iso(c.waiting_since) : null);
  put(p, 'Priority', c.priority);
  put(p, 'Assigned Team', teamOf(d, c.team_assignee_id)?.name);
  put(p, 'Assigned Admin Name', adminOf(d, c.admin_assignee_id)?.name);
  put(p, 'Assigned Admin Email', adminOf(d, c.admin_assignee_id)?.email);
  put(
    p,
    'Tags',
    c.tags.tags.map((t) => t.name),
  );
  put(p, 'Conversation Rating', c.conversation_rating?.rating);
  put(p, 'Conversation Source', c.source.type);
  put(p, 'Conversation Delivered As', c.source.delivered_as);
  put(p, 'Conversation Parts Count', c.statistics?.count_conversation_parts ?? c.conversation_parts?.total_count);
  put(p, 'SLA Status', c.sla_applied?.sla_status);
  put(p, 'Reopened Count', c.statistics?.count_reopens);
  put(p, 'Assignment Count', c.statistics?.count_assignments);
  put(p, 'Custom Attributes', c.custom_attributes);
  put(p, 'Conversation ID', c.id);
  return p;
}

/** "Ticket metrics: Created, Submitted, Replied to Ticket, Marked as Waiting". */
export function ticketProperties(
  t: IntercomTicket,
  contact: IntercomContact,
  phoneE164: string | undefined,
  d: Directory,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  put(p, 'email', contact.email);
  put(p, 'phone_number', phoneE164);
  put(p, 'Category', t.category);
  put(p, 'Assigned Team', teamOf(d, t.team_assignee_id)?.name);
  put(p, 'Assigned Admin Name', adminOf(d, t.admin_assignee_id)?.name);
  put(p, 'Assigned Admin Email', adminOf(d, t.admin_assignee_id)?.email);
  put(
    p,
    'Snoozed Until',
    (t as { snoozed_until?: number }).snoozed_until ? iso((t as { snoozed_until: number }).snoozed_until) : null,
  );
  put(p, 'Ticket Parts Count', t.ticket_parts?.total_count);
  put(p, 'Ticket ID', t.id);
  put(p, 'Ticket Type', t.ticket_type?.name);
  put(p, 'Ticket Name', t.ticket_attributes._default_title_);
  put(p, 'Ticket Description', t.ticket_attributes._default_description_);
  put(p, 'Shared', t.is_shared);
  return p;
}

/** "Ticket Resolved (its own names, as the source document gives them)". */
export function ticketResolvedProperties(
  t: IntercomTicket,
  contact: IntercomContact,
  phoneE164: string | undefined,
  d: Directory,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  put(p, 'Contact Email', contact.email);
  put(p, 'Contact Phone', phoneE164);
  put(p, 'Category', t.category);
  put(p, 'Team Name', teamOf(d, t.team_assignee_id)?.name);
  put(p, 'Admin Name', adminOf(d, t.admin_assignee_id)?.name);
  put(p, 'Admin Email', adminOf(d, t.admin_assignee_id)?.email);
  put(p, 'Ticket ID', t.id);
  put(p, 'Ticket Name', t.ticket_attributes._default_title_);
  put(p, 'Ticket Description', t.ticket_attributes._default_description_);
  put(p, 'Is Shared', t.is_shared);
  return p;
}
