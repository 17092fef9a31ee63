import { intercomContract } from '@iks/contracts';
import type {
  ContactReference, IntercomAddressable, IntercomAddressableList, IntercomAdmin, IntercomApp, IntercomCompany, IntercomContact, IntercomConversation,
  IntercomConversationListItem, IntercomConversationPart, IntercomConversationRating, IntercomConversationSource, IntercomConversationStatistics,
  IntercomMe, IntercomReference, IntercomSubscriptionType, IntercomTag, IntercomTeam, IntercomTicket, IntercomTicketPart, IntercomTicketState,
  IntercomTicketType, PartAuthor, TicketPartAuthor,
} from '..';

/**
 * The resource types against contracts/intercom/api.intercom.io.2.14.yaml. Each entry lists a
 * type's properties with whether the type allows null; the compiler holds the list to the type
 * (every property, no other, the right nullability), this spec holds it to the contract: every
 * property is one of the component's, nullable exactly when the contract says so (`nullable`, or
 * a $ref to a nullable schema). A type may leave out what the pipeline never reads or serves.
 */
type Nullability<T> = { [K in keyof T]-?: null extends T[K] ? true : false };
const shape = <T>(n: Nullability<T>): Record<string, boolean> => n;

/** Properties the types have that the schema lacks, and why. */
const NOT_IN_SCHEMA: Record<string, readonly string[]> = {
  // `type: list` is in every example of the contract and in Intercom's answers, not in the schema
  contact_tags: ['type'],
};

const TYPES: Record<string, Record<string, boolean>> = {
  contact: shape<IntercomContact>({
    type: false, id: false, external_id: true, workspace_id: false, role: false, email: false, email_domain: false, phone: true, name: true,
    owner_id: true, has_hard_bounced: false, marked_email_as_spam: false, unsubscribed_from_emails: false, created_at: false, updated_at: false,
    signed_up_at: true, last_seen_at: true, last_replied_at: true, last_contacted_at: true, last_email_opened_at: true, last_email_clicked_at: true,
    language_override: true, browser: true, browser_version: true, browser_language: true, os: true, android_app_name: true,
    android_app_version: true, android_device: true, android_os_version: true, android_sdk_version: true, android_last_seen_at: true,
    ios_app_name: true, ios_app_version: true, ios_device: true, ios_os_version: true, ios_sdk_version: true, ios_last_seen_at: true,
    custom_attributes: false, avatar: true, tags: true, notes: false, companies: false, location: false, social_profiles: false,
  }),
  contact_location: shape<NonNullable<IntercomContact['location']>>({ type: true, country: true, region: true, city: true }),
  contact_reference: shape<ContactReference>({ type: false, id: false, external_id: true }),
  contact_tags: shape<IntercomAddressableList>({ type: false, data: false, url: false, total_count: false, has_more: false }),
  addressable_list: shape<IntercomAddressable>({ type: false, id: false, url: false }),
  subscription_type: shape<IntercomSubscriptionType>({
    type: false, id: false, state: false, default_translation: false, translations: false, consent_type: false, content_types: false,
  }),
  reference: shape<IntercomReference>({ type: false, id: true }),
  admin: shape<IntercomAdmin>({
    type: false, id: false, name: false, email: false, job_title: false, away_mode_enabled: false, away_mode_reassign: false,
    away_status_reason_id: true, has_inbox_seat: false, team_ids: false, avatar: true, team_priority_level: true,
  }),
  team: shape<IntercomTeam>({
    type: false, id: false, name: false, admin_ids: false, admin_priority_level: true, assignment_limit: true, distribution_method: true,
  }),
  tag: shape<IntercomTag>({ type: false, id: false, name: false, applied_at: true, applied_by: true }),
  company: shape<IntercomCompany>({
    type: false, id: false, name: false, app_id: false, plan: false, company_id: false, remote_created_at: false, created_at: false,
    updated_at: false, last_request_at: false, size: false, website: false, industry: false, monthly_spend: false, session_count: false,
    user_count: false, custom_attributes: false, tags: false, segments: false,
  }),
  app: shape<IntercomApp>({
    type: false, id_code: false, name: false, region: false, timezone: false, created_at: false, identity_verification: false,
  }),
  admin_with_app: shape<IntercomMe>({
    type: false, id: false, name: false, email: false, job_title: false, away_mode_enabled: false, away_mode_reassign: false, has_inbox_seat: false,
    team_ids: false, avatar: false, email_verified: true, app: true,
  }),
  conversation: shape<IntercomConversation>({
    type: false, id: false, title: true, created_at: false, updated_at: false, waiting_since: true, snoozed_until: true, open: false, state: false,
    read: false, priority: false, admin_assignee_id: true, team_assignee_id: true, tags: false, conversation_rating: true, source: false,
    contacts: false, teammates: true, custom_attributes: false, first_contact_reply: true, sla_applied: true, statistics: true,
    conversation_parts: false, linked_objects: false, ai_agent_participated: false,
  }),
  conversation_list_item: shape<IntercomConversationListItem>({
    type: false, id: false, title: true, created_at: false, updated_at: false, waiting_since: true, snoozed_until: true, open: false, state: false,
    read: false, priority: false, admin_assignee_id: true, team_assignee_id: true, tags: false, conversation_rating: true, source: false,
    contacts: false, teammates: true, custom_attributes: false, first_contact_reply: true, sla_applied: true, statistics: true, linked_objects: false,
    ai_agent_participated: false,
  }),
  conversation_part: shape<IntercomConversationPart>({
    type: false, id: false, part_type: false, body: true, created_at: false, updated_at: false, notified_at: false, assigned_to: true, author: false,
    attachments: false, external_id: true, redacted: false, state: false, tags: true, app_package_code: true,
  }),
  conversation_part_author: shape<PartAuthor>({ type: false, id: false, name: true, email: false, from_ai_agent: false, is_ai_answer: false }),
  conversation_rating: shape<IntercomConversationRating>({
    rating: false, remark: false, created_at: false, updated_at: false, contact: false, teammate: false,
  }),
  conversation_statistics: shape<IntercomConversationStatistics>({
    type: false, time_to_assignment: false, time_to_admin_reply: false, time_to_first_close: false, time_to_last_close: false,
    median_time_to_reply: false, first_contact_reply_at: false, first_assignment_at: false, first_admin_reply_at: false, first_close_at: false,
    last_assignment_at: false, last_assignment_admin_reply_at: false, last_contact_reply_at: false, last_admin_reply_at: false, last_close_at: false,
    last_closed_by_id: false, count_reopens: false, count_assignments: false, count_conversation_parts: false,
    assigned_team_first_response_time: false, assigned_team_first_response_time_in_office_hours: false, handling_time: false,
    adjusted_handling_time: true,
  }),
  conversation_source: shape<IntercomConversationSource>({
    type: false, id: false, delivered_as: false, subject: false, body: false, author: false, attachments: false, url: true, redacted: false,
  }),
  sla_applied: shape<NonNullable<IntercomConversation['sla_applied']>>({ type: false, sla_name: false, sla_status: false }),
  ticket: shape<IntercomTicket>({
    type: false, id: false, ticket_id: false, category: false, ticket_attributes: false, ticket_state: true, ticket_type: true, contacts: false,
    admin_assignee_id: false, team_assignee_id: false, created_at: false, updated_at: false, open: false, snoozed_until: false, linked_objects: false,
    ticket_parts: false, is_shared: false,
  }),
  ticket_state: shape<IntercomTicketState>({ type: false, id: false, category: false, internal_label: false, external_label: false }),
  ticket_type: shape<IntercomTicketType>({
    type: false, id: false, category: false, name: false, description: false, icon: false, workspace_id: false, ticket_type_attributes: false,
    ticket_states: false, archived: false, created_at: false, updated_at: false,
  }),
  ticket_part: shape<IntercomTicketPart>({
    type: false, id: false, part_type: false, body: true, previous_ticket_state: false, ticket_state: false, created_at: false, updated_at: false,
    assigned_to: true, author: false, attachments: false, external_id: true, redacted: false, app_package_code: false, updated_attribute_data: true,
  }),
  ticket_part_author: shape<TicketPartAuthor>({ type: false, id: false, name: true, email: false }),
};

type Schema = { $ref?: string; nullable?: boolean; properties?: Record<string, Schema>; allOf?: Schema[]; anyOf?: Schema[]; oneOf?: Schema[] };
const schemas = intercomContract().document.components.schemas as Record<string, Schema>;
const resolve = (s: Schema): Schema => (s.$ref ? schemas[s.$ref.split('/').pop()!] : s);
function nullable(s: Schema): boolean {
  if (s.nullable) return true;
  if (s.$ref) return nullable(resolve(s));
  return [...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])].some((x) => nullable(x));
}

describe('Intercom resource types match the 2.14 contract', () => {
  it.each(Object.keys(TYPES))('%s: every property is the contract\'s, nullable as it says', (component) => {
    const props = schemas[component]?.properties;
    expect(props).toBeDefined();
    const unknown = Object.keys(TYPES[component]).filter((k) => !props![k] && !NOT_IN_SCHEMA[component]?.includes(k));
    const nullability = Object.entries(TYPES[component])
      .filter(([k]) => props![k])
      .filter(([k, isNullable]) => nullable(props![k]) !== isNullable)
      .map(([k, isNullable]) => `${k}: the type says ${isNullable ? 'nullable' : 'not null'}, the contract ${isNullable ? 'not null' : 'nullable'}`);
    expect({ component, unknown, nullability }).toEqual({ component, unknown: [], nullability: [] });
  });
});
