import type { ContactReference, Unix } from './common.types';

/** components/schemas/ticket_state `category` (and ticket_part previous_ticket_state / ticket_state) */
export type TicketStateCategory = 'submitted' | 'in_progress' | 'waiting_on_customer' | 'resolved';
/** components/schemas/ticket `category` */
export type TicketCategory = 'Customer' | 'Back-office' | 'Tracker';

/** components/schemas/ticket_state (nullable; API 2.12+: in 2.11 `ticket_state` is the category string) */
export type IntercomTicketState = {
  type: 'ticket_state';
  id: string;
  category: TicketStateCategory;
  internal_label: string;
  external_label: string;
};

/** components/schemas/ticket_type (nullable) */
export type IntercomTicketType = {
  type: 'ticket_type';
  id: string;
  category: TicketCategory;
  name: string;
  description?: string;
  icon: string;
  workspace_id: string;
  ticket_type_attributes?: { type?: string; ticket_type_attributes?: unknown[] };
  ticket_states?: { type?: string; data?: unknown[] };
  archived: boolean;
  created_at: Unix;
  updated_at: Unix;
};

/** components/schemas/ticket_part_author */
export type TicketPartAuthor = {
  type: 'admin' | 'bot' | 'team' | 'user';
  id: string;
  name: string | null;
  email?: string;
};

/** components/schemas/ticket_part */
export type IntercomTicketPart = {
  type: 'ticket_part';
  id: string;
  part_type: string;
  body: string | null;
  /** Only on parts that record a state change (2.14: the category as a string). */
  previous_ticket_state?: TicketStateCategory;
  ticket_state?: TicketStateCategory;
  created_at: Unix;
  updated_at: Unix;
  assigned_to: { type: string; id: string | null } | null;
  author: TicketPartAuthor;
  attachments: never[];
  external_id: string | null;
  redacted: boolean;
  app_package_code?: string;
  updated_attribute_data?: { attribute?: Record<string, unknown>; value?: Record<string, unknown> } | null;
};

/** components/schemas/ticket (nullable; GET /tickets/{id}; POST /tickets/search answers a ticket.list of these) */
export type IntercomTicket = {
  type: 'ticket';
  id: string;
  ticket_id: string;
  category: TicketCategory;
  /** components/schemas/ticket_custom_attributes: strings (or null), numbers, booleans, arrays, file attributes. */
  ticket_attributes: Record<string, unknown>;
  ticket_state: IntercomTicketState | null;
  ticket_type: IntercomTicketType | null;
  /** components/schemas/ticket_contacts */
  contacts: { type: 'contact.list'; contacts: ContactReference[] };
  /** A string on tickets ("0" when unassigned), unlike the integer on conversations. */
  admin_assignee_id: string;
  team_assignee_id: string;
  created_at: Unix;
  updated_at: Unix;
  open: boolean;
  snoozed_until?: Unix;
  /** components/schemas/linked_object_list */
  linked_objects: {
    type: 'list';
    data: { type: 'ticket' | 'conversation'; id: string; category: TicketCategory | null }[];
    total_count: number;
    has_more: boolean;
  };
  /** components/schemas/ticket_parts */
  ticket_parts: { type: 'ticket_part.list'; ticket_parts: IntercomTicketPart[]; total_count: number };
  is_shared: boolean;
};

/**
 * A ticket as the webhooks of either version carry it (an app's subscriptions are pinned to its
 * API version): `ticket_state` the object (2.12+) or the category string with its labels (2.11).
 */
export type IntercomTicketAnyVersion = Omit<IntercomTicket, 'ticket_state'> & {
  ticket_state: IntercomTicketState | TicketStateCategory | null;
} & Partial<Pick<IntercomTicketV211, 'ticket_state_internal_label' | 'ticket_state_external_label'>>;

/**
 * A ticket of API 2.11 (Intercom-Version 2.11 and older; not in contracts/): `ticket_state` is
 * the category string and its labels sit beside it.
 */
export type IntercomTicketV211 = Omit<IntercomTicket, 'ticket_state'> & {
  ticket_state: TicketStateCategory;
  ticket_state_internal_label: string;
  ticket_state_external_label: string;
};
