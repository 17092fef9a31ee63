import {
  adminAuthor,
  contactAuthor,
  contactReference,
  makeConversation,
  makeConversationPart,
  makeTicket,
  makeTicketPart,
  type ConversationOptions,
  type TicketOptions,
} from './factories';
import type {
  IntercomAdmin,
  IntercomTeam,
  IntercomCompany,
  IntercomContact,
  IntercomContactTag,
  IntercomConversation,
  IntercomConversationPart,
  IntercomSubscriptionType,
  IntercomTag,
  IntercomTicket,
  IntercomTicketPart,
} from '@iks/intercom';
import { createRng, type Rng } from './rng';
import { buildNotification, type IntercomNotification, type NotificationOptions } from './webhook.sender';

/**
 * One registry of the webhook topics the emulator sends and the `data.item` each carries
 * (developers.intercom.com/docs/references/webhooks/webhook-models): a conversation for
 * conversation.*, a ticket for ticket.*, a contact for contact.*, a `contact_tag`
 * ({contact, tag}) for contact.*.tag.*, a "Subscription" for contact.subscribed /
 * contact.unsubscribed, a contact reference with `deleted`/`archived` for contact.deleted /
 * contact.archived, and a company for company.* (a topic the pipeline ignores).
 */
export const CONVERSATION_TOPICS = [
  'conversation.user.created',
  'conversation.user.replied',
  'conversation.read',
  'conversation.rating.added',
  'conversation.admin.replied',
  'conversation.admin.closed',
] as const;
export const TICKET_TOPICS = [
  'ticket.created',
  'ticket.state.updated',
  'ticket.contact.replied',
  'ticket.resolved',
] as const;
export const CONTACT_TOPICS = [
  'contact.user.created',
  'contact.lead.created',
  'contact.user.updated',
  'contact.lead.updated',
  'contact.email.updated',
  'contact.lead.signed_up',
] as const;
export const SUBSCRIPTION_TOPICS = ['contact.subscribed', 'contact.unsubscribed'] as const;
export const CONTACT_TAG_TOPICS = [
  'contact.user.tag.created',
  'contact.user.tag.deleted',
  'contact.lead.tag.created',
  'contact.lead.tag.deleted',
] as const;

export type ConversationTopic = (typeof CONVERSATION_TOPICS)[number];
export type TicketTopic = (typeof TICKET_TOPICS)[number];
export type ContactTopic = (typeof CONTACT_TOPICS)[number];
export type ContactTagTopic = (typeof CONTACT_TAG_TOPICS)[number];
export type SubscriptionTopic = (typeof SUBSCRIPTION_TOPICS)[number];

/** The 2.14 component(s) `data.item` of a topic validates against; `contact_tag` has none, so its parts are named. */
export function itemComponentsFor(topic: string, item?: object): { item?: string; parts?: Record<string, string> } {
  if (topic.startsWith('conversation.')) return { item: 'conversation' };
  if (topic.startsWith('ticket.')) return { item: 'ticket' };
  if ((CONTACT_TAG_TOPICS as readonly string[]).includes(topic)) return { parts: { contact: 'contact', tag: 'tag' } };
  if ((SUBSCRIPTION_TOPICS as readonly string[]).includes(topic)) {
    return { item: 'subscription_type', ...(item && 'contact' in item ? { parts: { contact: 'contact' } } : {}) };
  }
  if (topic === 'contact.deleted') return { item: item && 'deleted' in item ? 'contact_deleted' : 'contact' };
  if (topic === 'contact.archived') return { item: 'contact_archived' };
  if (topic.startsWith('contact.')) return { item: 'contact' };
  if (topic.startsWith('company.')) return { item: 'company' };
  return {};
}

/** data.item of contact.*.tag.created / .deleted. */
export type ContactTagItem = IntercomContactTag;

export function conversationNotification(
  topic: ConversationTopic,
  conversation: IntercomConversation,
  options?: NotificationOptions,
) {
  return buildNotification(topic, conversation, { createdAt: conversation.updated_at, ...options });
}

export function ticketNotification(topic: TicketTopic, ticket: IntercomTicket, options?: NotificationOptions) {
  return buildNotification(topic, ticket, { createdAt: ticket.updated_at, ...options });
}

export function contactNotification(topic: ContactTopic, contact: IntercomContact, options?: NotificationOptions) {
  return buildNotification(topic, contact, { createdAt: contact.updated_at, ...options });
}

export function contactTagNotification(
  topic: ContactTagTopic,
  contact: IntercomContact,
  tag: IntercomTag,
  options?: NotificationOptions & { taggedAt?: number },
) {
  const createdAt = options?.taggedAt ?? options?.createdAt ?? contact.updated_at;
  const item: ContactTagItem = {
    type: 'contact_tag',
    created_at: createdAt,
    contact,
    tag: { type: 'tag', id: tag.id, name: tag.name },
  };
  return buildNotification(topic, item, { createdAt, ...options });
}

/** The "Subscription" item of contact.subscribed / contact.unsubscribed (see subscriptionNotification). */
export type SubscriptionItem = IntercomSubscriptionType & { contact?: IntercomContact };

/**
 * contact.subscribed / contact.unsubscribed. Intercom's webhook-models table names their object
 * "Subscription" and shows no payload. The emulator sends the 2.14 description's only Subscription,
 * the `subscription_type` component, with the contact it concerns as `contact` (the way the
 * Contact Tag notification object pairs a tag with its contact): an assumption, written down in
 * libs/mapping/DECISIONS.md. `contact: null` sends the subscription alone (naming no contact).
 */
export function subscriptionNotification(
  topic: SubscriptionTopic,
  contact: IntercomContact | null,
  subscription: IntercomSubscriptionType,
  options?: NotificationOptions,
) {
  const item: SubscriptionItem = contact ? { ...subscription, contact } : { ...subscription };
  return buildNotification(topic, item, { createdAt: contact?.updated_at, ...options });
}

/**
 * contact.deleted: Intercom's webhook-models table names the object "Contact" without showing the
 * payload. Default: the `contact_deleted` shape (what DELETE /contacts/{id} returns; the pipeline must
 * then find email/phone in its directory); `full: true` sends the whole last-known contact instead.
 */
export function contactDeletedNotification(
  contact: IntercomContact | Pick<IntercomContact, 'id' | 'external_id'>,
  options?: NotificationOptions & { full?: boolean },
) {
  if (options?.full) return buildNotification('contact.deleted', contact, options);
  return buildNotification('contact.deleted', { ...contactReference(contact), deleted: true }, options);
}

export function contactArchivedNotification(
  contact: Pick<IntercomContact, 'id' | 'external_id'>,
  options?: NotificationOptions,
) {
  return buildNotification('contact.archived', { ...contactReference(contact), archived: true }, options);
}

/** A topic the pipeline does not map (acknowledged and counted): company.created by default. */
export function unknownTopicNotification(
  company: IntercomCompany,
  topic = 'company.created',
  options?: NotificationOptions,
) {
  return buildNotification(topic, company, { createdAt: company.created_at, ...options });
}

/** Deterministic `notif_` ids for scenarios, so a scenario is the same on every run. */
function notifIds(rng: Rng) {
  return () => `notif_${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-a${rng.hex(3)}-${rng.hex(12)}`;
}

export interface LifecycleOptions {
  contact: IntercomContact;
  admin: IntercomAdmin;
  team?: IntercomTeam | null;
  startAt: number;
  appId?: string;
  seed?: number;
  id?: string;
}

/**
 * A conversation as a contact lives it: conversation.user.created → (admin replies) →
 * conversation.user.replied → conversation.read → conversation.rating.added.
 * Each notification carries the conversation as it was at that moment.
 */
export function conversationLifecycle(
  options: LifecycleOptions & { rating?: number; remark?: string },
): IntercomNotification<IntercomConversation>[] {
  const rng = createRng(options.seed ?? 7);
  const nextId = notifIds(rng);
  const { contact, admin, team } = options;
  const id = options.id ?? String(100000 + rng.int(0, 899999));
  const t0 = options.startAt;
  const base: ConversationOptions = {
    id,
    contact,
    admin,
    team,
    createdAt: t0,
    slaStatus: 'hit',
    title: 'Cannot export my data',
  };
  const at = (t: number) => ({ appId: options.appId, id: nextId(), createdAt: t });
  const partId = (n: number) => String(Number(id) * 100 + n);

  const parts: IntercomConversationPart[] = [];
  const out: IntercomNotification<IntercomConversation>[] = [];
  const snapshot = (extra: Partial<ConversationOptions>) =>
    makeConversation({ ...base, parts: [...parts], ...extra }, createRng(Number(id)));

  out.push(conversationNotification('conversation.user.created', snapshot({ read: false }), at(t0)));

  parts.push(
    makeConversationPart(
      {
        id: partId(1),
        partType: 'assignment',
        author: adminAuthor(admin),
        body: null,
        createdAt: t0 + 30,
        assignedTo: { type: 'admin', id: admin.id },
      },
      rng,
    ),
  );
  parts.push(
    makeConversationPart(
      { id: partId(2), author: adminAuthor(admin), body: '<p>Which browser do you use?</p>', createdAt: t0 + 300 },
      rng,
    ),
  );
  parts.push(
    makeConversationPart(
      { id: partId(3), author: contactAuthor(contact), body: '<p>Chrome, latest.</p>', createdAt: t0 + 900 },
      rng,
    ),
  );
  out.push(conversationNotification('conversation.user.replied', snapshot({}), at(t0 + 900)));

  // conversation.read: the contact opened the admin's answer; nothing in the conversation records it but updated_at
  parts.push(
    makeConversationPart(
      { id: partId(4), author: adminAuthor(admin), body: '<p>Fixed, please retry.</p>', createdAt: t0 + 1200 },
      rng,
    ),
  );
  out.push(
    conversationNotification('conversation.read', snapshot({ read: true, updatedAt: t0 + 1260 }), at(t0 + 1260)),
  );

  parts.push(
    makeConversationPart(
      { id: partId(5), partType: 'close', author: adminAuthor(admin), body: null, createdAt: t0 + 1500 },
      rng,
    ),
  );
  const rating = { rating: options.rating ?? 5, remark: options.remark ?? 'Quick and helpful', createdAt: t0 + 1800 };
  out.push(
    conversationNotification(
      'conversation.rating.added',
      snapshot({ state: 'closed', read: true, rating }),
      at(t0 + 1800),
    ),
  );
  return out;
}

/**
 * A ticket from creation to resolution: ticket.created → ticket.state.updated (submitted) →
 * ticket.state.updated (waiting_on_customer) → ticket.contact.replied → ticket.state.updated
 * (resolved) and ticket.resolved for the same resolution. The ticket_parts record each state
 * change with previous_ticket_state; the creation part has previous == current (as the 2.14 example).
 */
export function ticketLifecycle(
  options: LifecycleOptions & Pick<TicketOptions, 'ticketType' | 'title' | 'description' | 'isShared'>,
): IntercomNotification<IntercomTicket>[] {
  const rng = createRng(options.seed ?? 11);
  const nextId = notifIds(rng);
  const { contact, admin, team } = options;
  const id = options.id ?? String(600 + rng.int(0, 99999));
  const t0 = options.startAt;
  const at = (t: number) => ({ appId: options.appId, id: nextId(), createdAt: t });
  const partId = (n: number) => String(Number(id) * 100 + n);
  const base: TicketOptions = {
    id,
    contact,
    admin,
    team,
    createdAt: t0,
    ticketType: options.ticketType,
    title: options.title ?? 'Export fails',
    description: options.description ?? 'CSV export times out',
    isShared: options.isShared,
  };
  const parts: IntercomTicketPart[] = [];
  const snapshot = (updatedAt: number) => makeTicket({ ...base, parts: [...parts], updatedAt }, createRng(Number(id)));
  const out: IntercomNotification<IntercomTicket>[] = [];

  // the ticket is opened in the backlog (in_progress) and then submitted to the customer-facing queue
  parts.push(
    makeTicketPart(
      { id: partId(1), author: adminAuthor(admin), createdAt: t0, previousState: 'in_progress', state: 'in_progress' },
      rng,
    ),
  );
  out.push(ticketNotification('ticket.created', snapshot(t0), at(t0)));

  parts.push(
    makeTicketPart(
      {
        id: partId(2),
        author: adminAuthor(admin),
        createdAt: t0 + 60,
        previousState: 'in_progress',
        state: 'submitted',
      },
      rng,
    ),
  );
  out.push(ticketNotification('ticket.state.updated', snapshot(t0 + 60), at(t0 + 60)));

  parts.push(
    makeTicketPart(
      { id: partId(3), author: adminAuthor(admin), body: '<p>Can you send the file?</p>', createdAt: t0 + 600 },
      rng,
    ),
  );
  parts.push(
    makeTicketPart(
      {
        id: partId(4),
        author: adminAuthor(admin),
        createdAt: t0 + 601,
        previousState: 'submitted',
        state: 'waiting_on_customer',
      },
      rng,
    ),
  );
  out.push(ticketNotification('ticket.state.updated', snapshot(t0 + 601), at(t0 + 601)));

  parts.push(
    makeTicketPart(
      { id: partId(5), author: contactAuthor(contact), body: '<p>Attached.</p>', createdAt: t0 + 3600 },
      rng,
    ),
  );
  out.push(ticketNotification('ticket.contact.replied', snapshot(t0 + 3600), at(t0 + 3600)));

  parts.push(
    makeTicketPart(
      {
        id: partId(6),
        author: adminAuthor(admin),
        createdAt: t0 + 7200,
        previousState: 'waiting_on_customer',
        state: 'resolved',
      },
      rng,
    ),
  );
  const resolved = snapshot(t0 + 7200);
  out.push(ticketNotification('ticket.state.updated', resolved, at(t0 + 7200)));
  out.push(ticketNotification('ticket.resolved', structuredClone(resolved), at(t0 + 7200)));
  return out;
}
