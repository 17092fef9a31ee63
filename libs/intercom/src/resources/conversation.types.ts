import type { ContactReference, IntercomReference, PartAuthor, Unix } from './common.types';
import type { IntercomTag } from './workspace.types';

/** components/schemas/conversation_part */
export type IntercomConversationPart = {
  type: 'conversation_part';
  id: string;
  part_type: string;
  body: string | null;
  created_at: Unix;
  updated_at: Unix;
  notified_at: Unix;
  assigned_to: IntercomReference | null;
  author: PartAuthor;
  /** components/schemas/part_attachment (the emulator sends none) */
  attachments: never[];
  external_id: string | null;
  redacted: boolean;
  state?: 'open' | 'closed' | 'snoozed';
  tags?: { type: 'tag'; id: string; name: string }[] | null;
  app_package_code?: string | null;
};

/** components/schemas/conversation_rating (nullable) */
export type IntercomConversationRating = {
  rating: number;
  remark: string;
  created_at: Unix;
  updated_at?: Unix;
  contact: ContactReference;
  teammate: IntercomReference;
};

/** components/schemas/sla_applied `sla_status` */
export type SlaStatus = 'hit' | 'missed' | 'cancelled' | 'active';

/** components/schemas/conversation_statistics (nullable) */
export type IntercomConversationStatistics = {
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
  assigned_team_first_response_time?: { team_id: number; team_name: string; response_time: number }[];
  assigned_team_first_response_time_in_office_hours?: { team_id: number; team_name: string; response_time: number }[];
  handling_time?: number;
  adjusted_handling_time?: number | null;
};

/** components/schemas/conversation_source */
export type IntercomConversationSource = {
  type:
    | 'conversation'
    | 'email'
    | 'facebook'
    | 'instagram'
    | 'phone_call'
    | 'phone_switch'
    | 'push'
    | 'sms'
    | 'twitter'
    | 'whatsapp';
  id: string;
  delivered_as: string;
  subject: string;
  body: string;
  author: PartAuthor;
  attachments: never[];
  url: string | null;
  redacted: boolean;
};

/**
 * components/schemas/conversation (GET /conversations/{id}, with its conversation_parts, the 500
 * most recent) and, without them, conversation_list_item (POST /conversations/search).
 */
export type IntercomConversation = {
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
  /** An integer on conversations, unlike the string on tickets. */
  admin_assignee_id: number | null;
  team_assignee_id: number | null;
  /** components/schemas/tags */
  tags: { type: 'tag.list'; tags: IntercomTag[] };
  conversation_rating: IntercomConversationRating | null;
  source: IntercomConversationSource;
  /** components/schemas/conversation_contacts */
  contacts: { type: 'contact.list'; contacts: ContactReference[] };
  /** components/schemas/conversation_teammates (nullable) */
  teammates: { type: 'admin.list'; teammates: IntercomReference[] } | null;
  /** components/schemas/custom_attributes: strings, integers, datetimes or custom object instance lists. */
  custom_attributes: Record<string, unknown>;
  /** components/schemas/conversation_first_contact_reply (nullable) */
  first_contact_reply: { created_at: Unix; type: string; url: string | null } | null;
  /** components/schemas/sla_applied (nullable) */
  sla_applied: { type: 'conversation_sla_summary'; sla_name: string; sla_status: SlaStatus } | null;
  statistics: IntercomConversationStatistics | null;
  /** components/schemas/conversation_parts: absent from a conversation_list_item. */
  conversation_parts?: {
    type: 'conversation_part.list';
    conversation_parts: IntercomConversationPart[];
    total_count: number;
  };
  linked_objects?: {
    type: 'list';
    total_count: number;
    has_more: boolean;
    data: { type: 'ticket' | 'conversation'; id: string; category: 'Customer' | 'Back-office' | 'Tracker' | null }[];
  };
  ai_agent_participated: boolean;
};

/** components/schemas/conversation_list_item: what POST /conversations/search answers (no parts). */
export type IntercomConversationListItem = Omit<IntercomConversation, 'conversation_parts'>;
