import { createRng, type Rng } from './rng';
import type {
  IntercomAddressableList,
  ContactReference,
  IntercomAdmin,
  IntercomCompany,
  IntercomContact,
  IntercomConversation,
  IntercomConversationPart,
  IntercomSubscriptionType,
  IntercomTag,
  IntercomTeam,
  IntercomTicket,
  IntercomTicketPart,
  IntercomTicketState,
  IntercomTicketType,
  PartAuthor,
  SlaStatus,
  TicketCategory,
  TicketStateCategory,
  Unix,
} from '@iks/intercom';

/**
 * Factories for Intercom 2.14 objects. Each takes the few facts a test cares about and fills
 * the rest with real-shaped values; an `rng` makes the filler deterministic (default: a
 * module-wide generator with a fixed seed, so a test file gives the same objects every run).
 *
 * Deviations from what api.intercom.io returns, forced by the 2.14 schema the objects must pass:
 * - list `url`s are absolute (`https://api.intercom.io/contacts/…/tags`): the schema says
 *   `format: uri`, which a relative `/contacts/…` does not satisfy;
 * - items of a contact's `tags.data` carry no `type: "tag"` (the schema gives it `format: uri`);
 * - a contact without an email has `email: ""` (the schema does not allow null).
 */

export const API_BASE_URL = 'https://api.intercom.io';
/** 2026-01-01T00:00:00Z: the seeded dataset's times start here. */
export const DATASET_EPOCH: Unix = 1767225600;
export const DEFAULT_WORKSPACE_ID = 'emu1a2b3';

let fallbackRng = createRng(20260101);
/** Resets the generator factories use when no `rng` is given (call in beforeEach for order-independent tests). */
export function resetFactoryRng(seed = 20260101): void {
  fallbackRng = createRng(seed);
}
const rngOr = (rng?: Rng): Rng => rng ?? fallbackRng;

const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Alan',
  'Katherine',
  'Linus',
  'Margaret',
  'Tim',
  'Barbara',
  'Ken',
  'Radia',
  'Dennis',
  'Frances',
];
const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Johnson',
  'Torvalds',
  'Hamilton',
  'Berners-Lee',
  'Liskov',
  'Thompson',
  'Perlman',
  'Ritchie',
  'Allen',
];
const LOCATIONS = [
  { country: 'United States', region: 'California', city: 'San Francisco' },
  { country: 'Ireland', region: 'Dublin', city: 'Dublin' },
  { country: 'United Kingdom', region: 'England', city: 'London' },
  { country: 'Germany', region: 'Berlin', city: 'Berlin' },
  { country: 'Italy', region: 'Lombardy', city: 'Milan' },
];
/**
 * The shapes contacts' phones come in: E.164, international with spaces, national formats that
 * libphonenumber can fix with a country, and ones no one can.
 */
const PHONE_SHAPES: readonly ((digits: string) => string)[] = [
  (d) => `+1415555${d}`,
  (d) => `+35387000${d}`,
  (d) => `+44 20 7946 ${d}`,
  (d) => `555-${d}`,
  (d) => `(415) 555-${d}`,
  (d) => `+39 02 1234 ${d}`,
  (d) => `call me maybe ${d}`,
];

/**
 * The n-th phone (0 ≤ n < 10,000): a different number for every n, in the shape n picks, so no two
 * contacts of a dataset share a phone at Klaviyo unless a scenario says so (issue #10).
 */
export function uniquePhone(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= 10_000)
    throw new RangeError(`uniquePhone: n must be an integer in 0..9999, got ${n}`);
  return PHONE_SHAPES[n % PHONE_SHAPES.length](String(n).padStart(4, '0'));
}

function list(url: string, data: { id: string; url: string }[] = []): IntercomAddressableList {
  return { type: 'list', data, url, total_count: data.length, has_more: false };
}

export interface ContactOptions {
  id?: string;
  role?: 'user' | 'lead';
  /** null or '' for a contact without email; default: unique to the contact's id */
  email?: string | null;
  /** default: uniquePhone of a random n (the dataset passes a distinct n per contact) */
  phone?: string | null;
  name?: string | null;
  externalId?: string | null;
  createdAt?: Unix;
  updatedAt?: Unix;
  tags?: readonly Pick<IntercomTag, 'id'>[];
  customAttributes?: Record<string, string | number | boolean | null>;
  location?: { country: string | null; region: string | null; city: string | null };
  avatarUrl?: string | null;
  unsubscribedFromEmails?: boolean;
  hasHardBounced?: boolean;
  markedEmailAsSpam?: boolean;
  workspaceId?: string;
}

export function makeContact(options: ContactOptions = {}, rng?: Rng): IntercomContact {
  const r = rngOr(rng);
  const id = options.id ?? r.hex(24);
  const role = options.role ?? (r.chance(0.7) ? 'user' : 'lead');
  const first = r.pick(FIRST_NAMES);
  const last = r.pick(LAST_NAMES);
  const name = options.name !== undefined ? options.name : `${first} ${last}`;
  // the id's tail: the dataset's ids share their head and differ in their last digits
  const email =
    options.email === undefined ? `${first}.${last}.${id.slice(-8)}@example.com`.toLowerCase() : (options.email ?? '');
  const createdAt = options.createdAt ?? DATASET_EPOCH + r.int(0, 86400 * 20);
  const updatedAt = options.updatedAt ?? createdAt;
  const location = options.location ?? r.pick(LOCATIONS);
  const avatarUrl =
    options.avatarUrl !== undefined
      ? options.avatarUrl
      : `https://static.intercomassets.com/avatars/${id}/square_128/avatar.png`;
  const tagRefs = (options.tags ?? []).map((t) => ({ id: t.id, url: `${API_BASE_URL}/tags/${t.id}` }));
  return {
    type: 'contact',
    id,
    workspace_id: options.workspaceId ?? DEFAULT_WORKSPACE_ID,
    external_id:
      options.externalId !== undefined ? options.externalId : role === 'user' ? `ext-${id.slice(0, 8)}` : null,
    role,
    email,
    email_domain: email.includes('@') ? email.split('@')[1] : '',
    phone: options.phone !== undefined ? options.phone : uniquePhone(r.int(0, 9999)),
    name,
    owner_id: null,
    has_hard_bounced: options.hasHardBounced ?? false,
    marked_email_as_spam: options.markedEmailAsSpam ?? false,
    unsubscribed_from_emails: options.unsubscribedFromEmails ?? false,
    created_at: createdAt,
    updated_at: updatedAt,
    signed_up_at: role === 'user' ? createdAt : null,
    last_seen_at: updatedAt,
    last_replied_at: null,
    last_contacted_at: null,
    last_email_opened_at: null,
    last_email_clicked_at: null,
    language_override: null,
    browser: 'chrome',
    browser_version: '131.0.0',
    browser_language: 'en',
    os: 'OS X 14.5',
    custom_attributes: options.customAttributes ?? { plan: 'free' },
    avatar: avatarUrl === null ? null : { type: 'avatar', image_url: avatarUrl },
    tags: list(`${API_BASE_URL}/contacts/${id}/tags`, tagRefs),
    notes: list(`${API_BASE_URL}/contacts/${id}/notes`),
    companies: list(`${API_BASE_URL}/contacts/${id}/companies`),
    location: { type: 'location', ...location },
    social_profiles: { type: 'list', data: [] },
  };
}

export function contactReference(contact: Pick<IntercomContact, 'id' | 'external_id'>): ContactReference {
  return { type: 'contact', id: contact.id, external_id: contact.external_id };
}

export function contactAuthor(contact: Pick<IntercomContact, 'id' | 'role' | 'name' | 'email'>): PartAuthor {
  return { type: contact.role, id: contact.id, name: contact.name, ...(contact.email ? { email: contact.email } : {}) };
}

export function adminAuthor(admin: Pick<IntercomAdmin, 'id' | 'name' | 'email'>): PartAuthor {
  return { type: 'admin', id: admin.id, name: admin.name, email: admin.email };
}

export function makeAdmin(
  options: { id?: string; name?: string; email?: string; teamIds?: number[] } = {},
  rng?: Rng,
): IntercomAdmin {
  const r = rngOr(rng);
  const id = options.id ?? String(991260000 + r.int(0, 9999));
  const name = options.name ?? `${r.pick(FIRST_NAMES)} ${r.pick(LAST_NAMES)}`;
  return {
    type: 'admin',
    id,
    name,
    email: options.email ?? `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@support.example.com`,
    job_title: 'Support Engineer',
    away_mode_enabled: false,
    away_mode_reassign: false,
    has_inbox_seat: true,
    team_ids: options.teamIds ?? [],
    avatar: `https://static.intercomassets.com/avatars/${id}/square_128/admin.png`,
  };
}

export function makeTeam(options: { id?: string; name?: string; adminIds?: number[] } = {}, rng?: Rng): IntercomTeam {
  const r = rngOr(rng);
  return {
    type: 'team',
    id: options.id ?? String(5017000 + r.int(0, 999)),
    name: options.name ?? r.pick(['Support', 'Billing', 'Onboarding', 'Escalations']),
    admin_ids: options.adminIds ?? [],
  };
}

export function makeTag(options: { id?: string; name?: string } = {}, rng?: Rng): IntercomTag {
  const r = rngOr(rng);
  return { type: 'tag', id: options.id ?? String(100 + r.int(0, 89999)), name: options.name ?? `tag-${r.hex(4)}` };
}

export function makeSubscriptionType(
  options: {
    id?: string;
    name?: string;
    consentType?: 'opt_in' | 'opt_out';
    contentTypes?: ('email' | 'sms_message')[];
  } = {},
  rng?: Rng,
): IntercomSubscriptionType {
  const r = rngOr(rng);
  const name = options.name ?? 'Newsletters';
  return {
    type: 'subscription',
    id: options.id ?? String(90 + r.int(0, 900)),
    state: 'live',
    consent_type: options.consentType ?? 'opt_out',
    default_translation: { name, locale: 'en' },
    translations: [{ name, locale: 'en' }],
    content_types: options.contentTypes ?? ['email'],
  };
}

export function makeConversationPart(
  options: {
    id?: string;
    partType?: string;
    author: PartAuthor;
    body?: string | null;
    createdAt: Unix;
    assignedTo?: { type: string; id: string | null } | null;
  },
  rng?: Rng,
): IntercomConversationPart {
  const r = rngOr(rng);
  const partType = options.partType ?? 'comment';
  return {
    type: 'conversation_part',
    id: options.id ?? String(1000000000 + r.int(0, 899999999)),
    part_type: partType,
    body:
      options.body !== undefined
        ? options.body
        : partType === 'comment'
          ? `<p>${r.pick(['Thanks!', 'Any update?', 'It still fails.', 'Let me check.'])}</p>`
          : null,
    created_at: options.createdAt,
    updated_at: options.createdAt,
    notified_at: options.createdAt,
    assigned_to: options.assignedTo ?? null,
    author: options.author,
    attachments: [],
    external_id: null,
    redacted: false,
  };
}

export interface ConversationOptions {
  id?: string;
  contact: IntercomContact;
  admin?: IntercomAdmin | null;
  team?: IntercomTeam | null;
  createdAt?: Unix;
  /** default: the newest of created_at, the parts and the rating */
  updatedAt?: Unix;
  state?: 'open' | 'closed' | 'snoozed';
  read?: boolean;
  priority?: 'priority' | 'not_priority';
  title?: string | null;
  tags?: readonly IntercomTag[];
  rating?: { rating: number; remark?: string; createdAt: Unix } | null;
  /** parts after the source message, oldest first */
  parts?: readonly IntercomConversationPart[];
  sourceType?: IntercomConversation['source']['type'];
  deliveredAs?: string;
  body?: string;
  customAttributes?: Record<string, string | number>;
  slaStatus?: SlaStatus | null;
  snoozedUntil?: Unix | null;
  countReopens?: number;
}

export function makeConversation(options: ConversationOptions, rng?: Rng): IntercomConversation {
  const r = rngOr(rng);
  const { contact } = options;
  const admin = options.admin ?? null;
  const team = options.team ?? null;
  const createdAt = options.createdAt ?? contact.created_at + r.int(60, 86400);
  const parts = [...(options.parts ?? [])];
  const rating = options.rating ?? null;
  const updatedAt = options.updatedAt ?? Math.max(createdAt, ...parts.map((p) => p.created_at), rating?.createdAt ?? 0);
  const state = options.state ?? 'open';
  const isContact = (p: IntercomConversationPart) => p.author.type === 'user' || p.author.type === 'lead';
  const adminReplies = parts.filter((p) => p.author.type === 'admin' && p.part_type === 'comment');
  const contactReplies = parts.filter(isContact);
  const closes = parts.filter((p) => p.part_type === 'close');
  const assignments = parts.filter((p) => p.part_type === 'assignment' || p.part_type === 'assign_and_reopen');
  const firstAdminReply = adminReplies[0]?.created_at ?? createdAt;
  const lastClose = closes.at(-1)?.created_at ?? createdAt;
  const slaStatus =
    options.slaStatus === undefined ? r.pick<SlaStatus>(['hit', 'missed', 'active']) : options.slaStatus;
  return {
    type: 'conversation',
    id: options.id ?? String(100000 + r.int(0, 899999)),
    title: options.title ?? null,
    created_at: createdAt,
    updated_at: updatedAt,
    waiting_since: state === 'open' && contactReplies.length > 0 ? contactReplies.at(-1)!.created_at : null,
    snoozed_until: state === 'snoozed' ? (options.snoozedUntil ?? updatedAt + 86400) : (options.snoozedUntil ?? null),
    open: state !== 'closed',
    state,
    read: options.read ?? adminReplies.length > 0,
    priority: options.priority ?? 'not_priority',
    admin_assignee_id: admin ? Number(admin.id) : null,
    team_assignee_id: team ? Number(team.id) : null,
    tags: {
      type: 'tag.list',
      tags: (options.tags ?? []).map((t) => ({
        type: 'tag',
        id: t.id,
        name: t.name,
        applied_at: createdAt,
        ...(admin ? { applied_by: { type: 'admin', id: admin.id } } : {}),
      })),
    },
    conversation_rating: rating
      ? {
          rating: rating.rating,
          remark: rating.remark ?? '',
          created_at: rating.createdAt,
          contact: contactReference(contact),
          teammate: { type: 'admin', id: admin?.id ?? '0' },
        }
      : null,
    source: {
      type: options.sourceType ?? 'conversation',
      id: String(400000000 + r.int(0, 99999999)),
      delivered_as: options.deliveredAs ?? 'customer_initiated',
      subject: '',
      body:
        options.body ??
        `<p>${r.pick(['I cannot log in', 'Where is my order?', 'How do I export data?', 'Billing question'])}</p>`,
      author: contactAuthor(contact),
      attachments: [],
      url: null,
      redacted: false,
    },
    contacts: { type: 'contact.list', contacts: [contactReference(contact)] },
    teammates: admin ? { type: 'admin.list', teammates: [{ type: 'admin', id: admin.id }] } : null,
    custom_attributes: options.customAttributes ?? {},
    first_contact_reply: { created_at: createdAt, type: 'conversation', url: null },
    sla_applied: slaStatus
      ? { type: 'conversation_sla_summary', sla_name: 'First response in 1h', sla_status: slaStatus }
      : null,
    statistics: {
      type: 'conversation_statistics',
      time_to_assignment: 0,
      time_to_admin_reply: firstAdminReply - createdAt,
      time_to_first_close: (closes[0]?.created_at ?? createdAt) - createdAt,
      time_to_last_close: lastClose - createdAt,
      median_time_to_reply: firstAdminReply - createdAt,
      first_contact_reply_at: createdAt,
      first_assignment_at: assignments[0]?.created_at ?? createdAt,
      first_admin_reply_at: firstAdminReply,
      first_close_at: closes[0]?.created_at ?? createdAt,
      last_assignment_at: assignments.at(-1)?.created_at ?? createdAt,
      last_assignment_admin_reply_at: adminReplies.at(-1)?.created_at ?? createdAt,
      last_contact_reply_at: contactReplies.at(-1)?.created_at ?? createdAt,
      last_admin_reply_at: adminReplies.at(-1)?.created_at ?? createdAt,
      last_close_at: lastClose,
      last_closed_by_id: admin?.id ?? '0',
      count_reopens: options.countReopens ?? 0,
      count_assignments: assignments.length,
      count_conversation_parts: parts.length + 1,
    },
    conversation_parts: { type: 'conversation_part.list', conversation_parts: parts, total_count: parts.length },
    ai_agent_participated: false,
  };
}

const STATE_LABELS: Record<TicketStateCategory, [id: string, internal: string, external: string]> = {
  submitted: ['8577', 'Submitted', 'Submitted'],
  in_progress: ['8578', 'In progress', 'In progress'],
  waiting_on_customer: ['8579', 'Waiting on customer', 'Awaiting your reply'],
  resolved: ['8580', 'Resolved', 'Resolved'],
};

/** The workspace's default ticket states (2.12+: `ticket_state` is an object). */
export function makeTicketState(category: TicketStateCategory): IntercomTicketState {
  const [id, internal, external] = STATE_LABELS[category];
  return { type: 'ticket_state', id, category, internal_label: internal, external_label: external };
}

export function makeTicketType(
  options: { id?: string; name?: string; category?: TicketCategory; workspaceId?: string } = {},
  rng?: Rng,
): IntercomTicketType {
  const r = rngOr(rng);
  const category = options.category ?? 'Customer';
  return {
    type: 'ticket_type',
    id: options.id ?? String(100 + r.int(0, 899)),
    category,
    name:
      options.name ?? { Customer: 'Bug report', 'Back-office': 'Refund request', Tracker: 'Outage tracker' }[category],
    icon: { Customer: '🐞', 'Back-office': '💸', Tracker: '🚨' }[category],
    workspace_id: options.workspaceId ?? DEFAULT_WORKSPACE_ID,
    archived: false,
    created_at: DATASET_EPOCH - 86400 * 30,
    updated_at: DATASET_EPOCH - 86400 * 30,
  };
}

export function makeTicketPart(
  options: {
    id?: string;
    partType?: string;
    author: PartAuthor;
    body?: string | null;
    createdAt: Unix;
    /** both, for a part that records a state change */
    previousState?: TicketStateCategory;
    state?: TicketStateCategory;
  },
  rng?: Rng,
): IntercomTicketPart {
  const r = rngOr(rng);
  const stateChange = options.state !== undefined;
  const partType =
    options.partType ??
    (stateChange ? `ticket_state_updated_by_${options.author.type === 'admin' ? 'admin' : 'user'}` : 'comment');
  return {
    type: 'ticket_part',
    id: options.id ?? String(100 + r.int(0, 99999999)),
    part_type: partType,
    body:
      options.body !== undefined
        ? options.body
        : partType === 'comment'
          ? `<p>${r.pick(['Here are the logs.', 'Still broken.', 'Thanks, that worked.'])}</p>`
          : null,
    ...(stateChange
      ? { previous_ticket_state: options.previousState ?? options.state, ticket_state: options.state }
      : {}),
    created_at: options.createdAt,
    updated_at: options.createdAt,
    assigned_to: null,
    // ticket_part_author.type is admin | bot | team | user: a lead writes as a user
    author: { ...options.author, type: options.author.type === 'lead' ? 'user' : options.author.type },
    attachments: [],
    external_id: null,
    redacted: false,
  };
}

export interface TicketOptions {
  id?: string;
  ticketId?: string;
  contact: IntercomContact;
  admin?: IntercomAdmin | null;
  team?: IntercomTeam | null;
  ticketType?: IntercomTicketType;
  /** default: the newest state part's state, else submitted */
  state?: TicketStateCategory;
  createdAt?: Unix;
  updatedAt?: Unix;
  title?: string;
  description?: string | null;
  isShared?: boolean;
  parts?: readonly IntercomTicketPart[];
  snoozedUntil?: Unix;
}

export function makeTicket(options: TicketOptions, rng?: Rng): IntercomTicket {
  const r = rngOr(rng);
  const createdAt = options.createdAt ?? options.contact.created_at + r.int(60, 86400);
  const parts = [...(options.parts ?? [])];
  const lastStatePart = [...parts].reverse().find((p) => p.ticket_state !== undefined);
  const state = options.state ?? lastStatePart?.ticket_state ?? 'submitted';
  const ticketType = options.ticketType ?? makeTicketType({}, r);
  const id = options.id ?? String(600 + r.int(0, 999999));
  return {
    type: 'ticket',
    id,
    ticket_id: options.ticketId ?? String(Number(id) % 10000),
    category: ticketType.category,
    ticket_attributes: {
      _default_title_:
        options.title ?? r.pick(['Export fails', 'Refund for order', 'Cannot reset password', 'App crashes on start']),
      _default_description_:
        options.description !== undefined
          ? options.description
          : r.pick(['Steps in the thread.', 'Happens every time.', null]),
    },
    ticket_state: makeTicketState(state),
    ticket_type: ticketType,
    contacts: { type: 'contact.list', contacts: [contactReference(options.contact)] },
    admin_assignee_id: options.admin ? options.admin.id : '0',
    team_assignee_id: options.team ? options.team.id : '0',
    created_at: createdAt,
    updated_at: options.updatedAt ?? Math.max(createdAt, ...parts.map((p) => p.updated_at)),
    open: state !== 'resolved',
    ...(options.snoozedUntil !== undefined ? { snoozed_until: options.snoozedUntil } : {}),
    linked_objects: { type: 'list', data: [], total_count: 0, has_more: false },
    ticket_parts: { type: 'ticket_part.list', ticket_parts: parts, total_count: parts.length },
    is_shared: options.isShared ?? ticketType.category === 'Customer',
  };
}

export function makeCompany(
  options: { id?: string; name?: string; createdAt?: Unix; appId?: string } = {},
  rng?: Rng,
): IntercomCompany {
  const r = rngOr(rng);
  const createdAt = options.createdAt ?? DATASET_EPOCH + r.int(0, 86400 * 20);
  const name = options.name ?? `${r.pick(LAST_NAMES)} Ltd`;
  return {
    type: 'company',
    id: options.id ?? r.hex(24),
    name,
    app_id: options.appId ?? DEFAULT_WORKSPACE_ID,
    company_id: `company-${r.hex(6)}`,
    created_at: createdAt,
    updated_at: createdAt,
    remote_created_at: createdAt,
    last_request_at: createdAt,
    size: r.int(1, 500),
    website: `https://${name.toLowerCase().replace(/[^a-z]+/g, '')}.example.com`,
    industry: 'Software',
    monthly_spend: r.int(0, 5000),
    session_count: 0,
    user_count: 0,
    custom_attributes: {},
    tags: { type: 'tag.list', tags: [] },
  };
}
