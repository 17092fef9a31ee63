/**
 * The subset of Intercom API 2.14 objects the emulator serves and sends
 * (contracts/intercom/api.intercom.io.2.14.yaml, components/schemas/*).
 * Every field listed here is emitted; the specs validate each object against its component.
 */

export type Unix = number;

export interface IntercomAdmin {
  type: 'admin';
  id: string;
  name: string;
  email: string;
  job_title: string;
  away_mode_enabled: boolean;
  away_mode_reassign: boolean;
  has_inbox_seat: boolean;
  team_ids: number[];
  avatar: string | null;
}

export interface IntercomTeam {
  type: 'team';
  id: string;
  name: string;
  admin_ids: number[];
}

export interface IntercomTag {
  type: 'tag';
  id: string;
  name: string;
  applied_at?: Unix | null;
  applied_by?: { type: string; id: string | null } | null;
}

export interface IntercomSubscriptionType {
  type: 'subscription';
  id: string;
  state: 'live' | 'draft' | 'archived';
  consent_type: 'opt_in' | 'opt_out';
  default_translation: { name: string; locale: string };
  translations: { name: string; locale: string }[];
  content_types: ('email' | 'sms_message')[];
}

export interface AddressableList {
  type: 'list';
  data: { id: string; url: string }[];
  url: string;
  total_count: number;
  has_more: boolean;
}

export interface IntercomContact {
  type: 'contact';
  id: string;
  workspace_id: string;
  external_id: string | null;
  role: 'user' | 'lead';
  /** '' when the contact has no email (the 2.14 schema does not allow null). */
  email: string;
  email_domain: string;
  phone: string | null;
  name: string | null;
  owner_id: number | null;
  has_hard_bounced: boolean;
  marked_email_as_spam: boolean;
  unsubscribed_from_emails: boolean;
  created_at: Unix;
  updated_at: Unix;
  signed_up_at: Unix | null;
  last_seen_at: Unix | null;
  last_replied_at: Unix | null;
  last_contacted_at: Unix | null;
  last_email_opened_at: Unix | null;
  last_email_clicked_at: Unix | null;
  language_override: string | null;
  browser: string | null;
  browser_version: string | null;
  browser_language: string | null;
  os: string | null;
  custom_attributes: Record<string, string | number | boolean | null>;
  avatar: { type: 'avatar'; image_url: string | null } | null;
  tags: AddressableList;
  notes: AddressableList;
  companies: AddressableList;
  location: { type: 'location'; country: string | null; region: string | null; city: string | null };
  social_profiles: { type: 'list'; data: { type: string; name: string; url: string }[] };
}

export interface ContactReference {
  type: 'contact';
  id: string;
  external_id: string | null;
}

export interface PartAuthor {
  type: 'user' | 'lead' | 'admin' | 'bot' | 'team';
  id: string;
  name: string | null;
  email?: string;
}

export interface IntercomConversationPart {
  type: 'conversation_part';
  id: string;
  part_type: string;
  body: string | null;
  created_at: Unix;
  updated_at: Unix;
  notified_at: Unix;
  assigned_to: { type: string; id: string | null } | null;
  author: PartAuthor;
  attachments: never[];
  external_id: string | null;
  redacted: boolean;
}

export interface IntercomConversationRating {
  rating: number;
  remark: string;
  created_at: Unix;
  contact: ContactReference;
  teammate: { type: 'admin'; id: string };
}

export type SlaStatus = 'hit' | 'missed' | 'cancelled' | 'active';

export interface IntercomConversation {
  type: 'conversation';
  id: string;
  title: string | null;
  created_at: Unix;
  updated_at: Unix;
  waiting_since: Unix | null;
  snoozed_until: Unix | null;
  open: boolean;
  state: 'open' | 'closed' | 'snoozed';
  read: boolean;
  priority: 'priority' | 'not_priority';
  admin_assignee_id: number | null;
  team_assignee_id: number | null;
  tags: { type: 'tag.list'; tags: IntercomTag[] };
  conversation_rating: IntercomConversationRating | null;
  source: {
    type: 'conversation' | 'email' | 'facebook' | 'instagram' | 'phone_call' | 'phone_switch' | 'push' | 'sms' | 'twitter' | 'whatsapp';
    id: string;
    delivered_as: string;
    subject: string;
    body: string;
    author: PartAuthor;
    attachments: never[];
    url: string | null;
    redacted: boolean;
  };
  contacts: { type: 'contact.list'; contacts: ContactReference[] };
  teammates: { type: 'admin.list'; teammates: { type: 'admin'; id: string }[] } | null;
  custom_attributes: Record<string, string | number>;
  first_contact_reply: { created_at: Unix; type: string; url: string | null } | null;
  sla_applied: { type: 'conversation_sla_summary'; sla_name: string; sla_status: SlaStatus } | null;
  statistics: IntercomConversationStatistics | null;
  conversation_parts?: { type: 'conversation_part.list'; conversation_parts: IntercomConversationPart[]; total_count: number };
  ai_agent_participated: boolean;
}

export interface IntercomConversationStatistics {
  type: 'conversation_statistics';
  time_to_assignment: number;
  time_to_admin_reply: number;
  time_to_first_close: number;
  time_to_last_close: number;
  median_time_to_reply: number;
  first_contact_reply_at: Unix;
  first_assignment_at: Unix;
  first_admin_reply_at: Unix;
  first_close_at: Unix;
  last_assignment_at: Unix;
  last_assignment_admin_reply_at: Unix;
  last_contact_reply_at: Unix;
  last_admin_reply_at: Unix;
  last_close_at: Unix;
  last_closed_by_id: string;
  count_reopens: number;
  count_assignments: number;
  count_conversation_parts: number;
}

export type TicketStateCategory = 'submitted' | 'in_progress' | 'waiting_on_customer' | 'resolved';
export type TicketCategory = 'Customer' | 'Back-office' | 'Tracker';

export interface IntercomTicketState {
  type: 'ticket_state';
  id: string;
  category: TicketStateCategory;
  internal_label: string;
  external_label: string;
}

export interface IntercomTicketType {
  type: 'ticket_type';
  id: string;
  category: TicketCategory;
  name: string;
  icon: string;
  workspace_id: string;
  archived: boolean;
  created_at: Unix;
  updated_at: Unix;
}

export interface IntercomTicketPart {
  type: 'ticket_part';
  id: string;
  part_type: string;
  body: string | null;
  /** only on parts that record a state change (2.14: the category as a string) */
  previous_ticket_state?: TicketStateCategory;
  ticket_state?: TicketStateCategory;
  created_at: Unix;
  updated_at: Unix;
  assigned_to: { type: string; id: string | null } | null;
  author: PartAuthor;
  attachments: never[];
  external_id: string | null;
  redacted: boolean;
}

export interface IntercomTicket {
  type: 'ticket';
  id: string;
  ticket_id: string;
  category: TicketCategory;
  ticket_attributes: Record<string, string | number | boolean | null>;
  ticket_state: IntercomTicketState;
  ticket_type: IntercomTicketType;
  contacts: { type: 'contact.list'; contacts: ContactReference[] };
  /** a string on tickets ("0" when unassigned), unlike the integer on conversations */
  admin_assignee_id: string;
  team_assignee_id: string;
  created_at: Unix;
  updated_at: Unix;
  open: boolean;
  snoozed_until?: Unix;
  linked_objects: { type: 'list'; data: never[]; total_count: number; has_more: boolean };
  ticket_parts: { type: 'ticket_part.list'; ticket_parts: IntercomTicketPart[]; total_count: number };
  is_shared: boolean;
}

export interface IntercomCompany {
  type: 'company';
  id: string;
  name: string;
  app_id: string;
  company_id: string;
  created_at: Unix;
  updated_at: Unix;
  remote_created_at: Unix;
  last_request_at: Unix;
  size: number;
  website: string;
  industry: string;
  monthly_spend: number;
  session_count: number;
  user_count: number;
  custom_attributes: Record<string, string>;
  tags: { type: 'tag.list'; tags: { type: 'tag'; id: string; name: string }[] };
}
