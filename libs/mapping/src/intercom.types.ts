/**
 * Loose, real-shaped Intercom objects (contracts/intercom/api.intercom.io.2.14.yaml,
 * components.schemas.*). Every field is optional and may be null: webhook payloads of
 * older API versions (2.11) and partial objects must not break the mapping. Ids are
 * typed `string | number` because some are integers (conversation admin_assignee_id,
 * team_assignee_id) and hand-built or older payloads use numbers elsewhere.
 */

export type IntercomId = string | number;

/** components.schemas.contact_reference */
export interface IntercomContactReference {
  type?: string | null;
  id?: IntercomId | null;
  external_id?: string | null;
}

/** components.schemas.addressable_list (a contact's tags carry ids only) */
export interface IntercomAddressable {
  type?: string | null;
  id?: IntercomId | null;
  url?: string | null;
}

/** components.schemas.contact */
export interface IntercomContact {
  type?: string | null;
  id?: IntercomId | null;
  external_id?: string | null;
  workspace_id?: string | null;
  role?: string | null;
  email?: string | null;
  phone?: string | null;
  name?: string | null;
  avatar?: { type?: string | null; image_url?: string | null } | null;
  location?: { type?: string | null; city?: string | null; country?: string | null; region?: string | null } | null;
  has_hard_bounced?: boolean | null;
  marked_email_as_spam?: boolean | null;
  unsubscribed_from_emails?: boolean | null;
  custom_attributes?: Record<string, unknown> | null;
  tags?: { data?: IntercomAddressable[] | null; total_count?: number | null; has_more?: boolean | null } | null;
  created_at?: number | null;
  updated_at?: number | null;
  [key: string]: unknown;
}

/** components.schemas.admin */
export interface IntercomAdmin {
  type?: string | null;
  id?: IntercomId | null;
  name?: string | null;
  email?: string | null;
  [key: string]: unknown;
}

/** components.schemas.team */
export interface IntercomTeam {
  type?: string | null;
  id?: IntercomId | null;
  name?: string | null;
  [key: string]: unknown;
}

/** components.schemas.tag / tag_basic */
export interface IntercomTag {
  type?: string | null;
  id?: IntercomId | null;
  name?: string | null;
  applied_at?: number | null;
  [key: string]: unknown;
}

/** components.schemas.subscription_type */
export interface IntercomSubscriptionType {
  type?: string | null;
  id?: IntercomId | null;
  state?: string | null;
  consent_type?: 'opt_in' | 'opt_out' | string | null;
  content_types?: string[] | null;
  [key: string]: unknown;
}

/** components.schemas.conversation_part_author / ticket_part_author */
export interface IntercomPartAuthor {
  type?: string | null;
  id?: IntercomId | null;
  name?: string | null;
  email?: string | null;
}

/** components.schemas.conversation_part */
export interface IntercomConversationPart {
  type?: string | null;
  id?: IntercomId | null;
  part_type?: string | null;
  body?: string | null;
  created_at?: number | null;
  updated_at?: number | null;
  author?: IntercomPartAuthor | null;
  [key: string]: unknown;
}

/** components.schemas.conversation */
export interface IntercomConversation {
  type?: string | null;
  id?: IntercomId | null;
  title?: string | null;
  created_at?: number | null;
  updated_at?: number | null;
  waiting_since?: number | null;
  snoozed_until?: number | null;
  priority?: string | null;
  admin_assignee_id?: IntercomId | null;
  team_assignee_id?: IntercomId | null;
  tags?: { type?: string | null; tags?: IntercomTag[] | null } | null;
  conversation_rating?: { rating?: number | null; remark?: string | null; created_at?: number | null; contact?: IntercomContactReference | null } | null;
  source?: { type?: string | null; id?: IntercomId | null; delivered_as?: string | null; author?: IntercomPartAuthor | null; [key: string]: unknown } | null;
  contacts?: { type?: string | null; contacts?: IntercomContactReference[] | null } | null;
  statistics?: { count_conversation_parts?: number | null; count_reopens?: number | null; count_assignments?: number | null; [key: string]: unknown } | null;
  sla_applied?: { sla_name?: string | null; sla_status?: string | null } | null;
  custom_attributes?: Record<string, unknown> | null;
  conversation_parts?: { type?: string | null; conversation_parts?: IntercomConversationPart[] | null; total_count?: number | null } | null;
  [key: string]: unknown;
}

/** components.schemas.ticket_state (API 2.12+; in 2.11 `ticket_state` is the category string) */
export interface IntercomTicketState {
  type?: string | null;
  id?: IntercomId | null;
  category?: string | null;
  internal_label?: string | null;
  external_label?: string | null;
}

/** components.schemas.ticket_part */
export interface IntercomTicketPart {
  type?: string | null;
  id?: IntercomId | null;
  part_type?: string | null;
  body?: string | null;
  previous_ticket_state?: string | null;
  ticket_state?: string | null;
  created_at?: number | null;
  updated_at?: number | null;
  author?: IntercomPartAuthor | null;
  [key: string]: unknown;
}

/** components.schemas.ticket */
export interface IntercomTicket {
  type?: string | null;
  id?: IntercomId | null;
  ticket_id?: IntercomId | null;
  category?: string | null;
  ticket_attributes?: Record<string, unknown> | null;
  ticket_state?: IntercomTicketState | string | null;
  /** API 2.11 only, beside a string `ticket_state`. */
  ticket_state_internal_label?: string | null;
  ticket_state_external_label?: string | null;
  ticket_type?: { name?: string | null; [key: string]: unknown } | null;
  contacts?: { type?: string | null; contacts?: IntercomContactReference[] | null } | null;
  admin_assignee_id?: IntercomId | null;
  team_assignee_id?: IntercomId | null;
  created_at?: number | null;
  updated_at?: number | null;
  snoozed_until?: number | null;
  is_shared?: boolean | null;
  open?: boolean | null;
  ticket_parts?: { type?: string | null; ticket_parts?: IntercomTicketPart[] | null; total_count?: number | null } | null;
  [key: string]: unknown;
}

/**
 * data.item of contact.user.tag.created / contact.lead.tag.created / *.tag.deleted.
 * Intercom documents it as a `contact_tag` object carrying the tag and the contact; the
 * 2.14 OpenAPI file has no component for it, so both parts are read defensively.
 */
export interface IntercomContactTag {
  type?: string | null;
  created_at?: number | null;
  tag?: IntercomTag | null;
  contact?: IntercomContact | null;
  [key: string]: unknown;
}
