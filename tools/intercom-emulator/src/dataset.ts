import {
  DATASET_EPOCH,
  DEFAULT_WORKSPACE_ID,
  adminAuthor,
  contactAuthor,
  makeAdmin,
  makeContact,
  makeConversation,
  makeConversationPart,
  makeSubscriptionType,
  makeTag,
  makeTeam,
  makeTicket,
  makeTicketPart,
  makeTicketType,
  uniquePhone,
} from './factories';
import type {
  IntercomAdmin,
  IntercomContact,
  IntercomConversation,
  IntercomConversationPart,
  IntercomSubscriptionType,
  IntercomTag,
  IntercomTeam,
  IntercomTicket,
  IntercomTicketPart,
  IntercomTicketType,
  TicketStateCategory,
} from '@iks/intercom';
import { createRng, type Rng } from './rng';

export interface Dataset {
  /** the workspace id; also the `app_id` of webhook notifications */
  appId: string;
  admins: IntercomAdmin[];
  teams: IntercomTeam[];
  tags: IntercomTag[];
  subscriptionTypes: IntercomSubscriptionType[];
  ticketTypes: IntercomTicketType[];
  contacts: IntercomContact[];
  /** GET /contacts/{id}/subscriptions, by contact id */
  contactSubscriptions: Record<string, IntercomSubscriptionType[]>;
  conversations: IntercomConversation[];
  tickets: IntercomTicket[];
  /** Only with `identifierConflict: true`. */
  identifierConflict?: IdentifierConflict;
}

/**
 * Issue #10's identifier conflict: Ada (email a, phone p1) and Bob (email b, phone p2) are created,
 * then Ada's phone becomes p2. At Klaviyo, Ada's update names her profile by email and Bob's by
 * phone: Create or Update Profile answers 409 duplicate_profile. Intercom lets two contacts share
 * a phone; Klaviyo does not let two profiles.
 */
export interface IdentifierConflict {
  /** Ada as created, with her own phone p1 */
  readonly before: IntercomContact;
  /** Bob, who holds p2 */
  readonly holder: IntercomContact;
  /** Ada after her update: phone p2 (this state is the one in `contacts`) */
  readonly after: IntercomContact;
}

export interface DatasetOptions {
  seed?: number;
  /** at most 10,000: every contact gets its own email and phone */
  contacts?: number;
  conversations?: number;
  tickets?: number;
  /** Add the two contacts of an identifier conflict (IdentifierConflict); off by default. */
  identifierConflict?: boolean;
  /** The workspace (`app_id`, contacts' and ticket types' `workspace_id`); default DEFAULT_WORKSPACE_ID. */
  appId?: string;
  /**
   * Added to every numeric id (admins, teams, tags, conversations, tickets) and to the sequence
   * digits of contact ids, so that two workspaces' objects never share an id (Intercom's ids are
   * unique across workspaces). Default 0: the single workspace's ids as always. At most 10^7.
   */
  idBase?: number;
}

const DAY = 86400;

/**
 * A deterministic workspace: the same options give byte-identical JSON on every run.
 * Times spread over 2026-01-01 … ~2026-02-10 with deliberate `updated_at` ties (ids break them).
 */
export function generateDataset(options: DatasetOptions = {}): Dataset {
  const seed = options.seed ?? 1;
  const r = createRng(seed);
  const contactCount = options.contacts ?? 50;
  const conversationCount = options.conversations ?? 40;
  const ticketCount = options.tickets ?? 20;
  const appId = options.appId ?? DEFAULT_WORKSPACE_ID;
  const base = options.idBase ?? 0;
  if (!Number.isInteger(base) || base < 0 || base > 10_000_000)
    throw new RangeError(`generateDataset: idBase must be an integer from 0 to 10,000,000, got ${base}`);
  if (contactCount > 10_000)
    throw new RangeError(
      `generateDataset: contacts must be at most 10,000 (each gets its own phone), got ${contactCount}`,
    );

  const teams = ['Support', 'Billing', 'Onboarding'].map((name, i) =>
    makeTeam({ id: String(5017691 + base + i), name }, r),
  );
  const admins = Array.from({ length: 5 }, (_, i) =>
    makeAdmin({ id: String(991267466 + base + i * 7), teamIds: [Number(teams[i % teams.length].id)] }, r),
  );
  for (const team of teams)
    team.admin_ids = admins.filter((a) => a.team_ids.includes(Number(team.id))).map((a) => Number(a.id));
  const tags = ['vip', 'churn-risk', 'beta', 'enterprise', 'trial', 'newsletter', 'bug', 'refund'].map((name, i) =>
    makeTag({ id: String(102 + base + i), name }, r),
  );
  const subscriptionTypes = [
    makeSubscriptionType({ id: '91', name: 'Newsletters', consentType: 'opt_out', contentTypes: ['email'] }, r),
    makeSubscriptionType({ id: '92', name: 'Product updates', consentType: 'opt_in', contentTypes: ['email'] }, r),
    makeSubscriptionType({ id: '93', name: 'SMS offers', consentType: 'opt_in', contentTypes: ['sms_message'] }, r),
  ];
  const ticketTypes = [
    makeTicketType({ id: String(100 + base), category: 'Customer', workspaceId: appId }, r),
    makeTicketType({ id: String(101 + base), category: 'Back-office', workspaceId: appId }, r),
    makeTicketType({ id: String(102 + base), category: 'Tracker', workspaceId: appId }, r),
  ];

  const contacts: IntercomContact[] = [];
  const contactSubscriptions: Record<string, IntercomSubscriptionType[]> = {};
  for (let i = 0; i < contactCount; i++) {
    const createdAt = DATASET_EPOCH + r.int(0, 20 * DAY);
    // every 7th contact shares an updated_at with the previous one, so pagination must tie-break on id
    const updatedAt =
      i % 7 === 6 && contacts.length > 0
        ? Math.max(createdAt, contacts.at(-1)!.updated_at)
        : createdAt + r.int(0, 10 * DAY);
    const contact = makeContact(
      {
        id: `6762f0d0${r.hex(8)}${String(base + i).padStart(8, '0')}`,
        workspaceId: appId,
        createdAt,
        updatedAt,
        email: i % 9 === 4 ? null : undefined,
        phone: i % 11 === 5 ? null : uniquePhone(i),
        avatarUrl: i % 6 === 3 ? null : undefined,
        tags: r.subset(tags, 3),
        customAttributes: {
          plan: r.pick(['free', 'pro', 'enterprise']),
          seats: r.int(1, 50),
          beta_opt_in: r.chance(0.3),
        },
        unsubscribedFromEmails: r.chance(0.1),
        hasHardBounced: r.chance(0.05),
        markedEmailAsSpam: r.chance(0.03),
      },
      r,
    );
    contacts.push(contact);
    contactSubscriptions[contact.id] = r.subset(subscriptionTypes, 3);
  }

  const identifierConflict = options.identifierConflict
    ? conflictingContacts(base + contactCount, r, appId)
    : undefined;
  if (identifierConflict) {
    for (const c of [identifierConflict.holder, identifierConflict.after]) {
      contacts.push(c);
      contactSubscriptions[c.id] = [];
    }
  }

  const conversations: IntercomConversation[] = [];
  for (let i = 0; i < conversationCount && contacts.length > 0; i++) {
    const contact = r.pick(contacts);
    const admin = r.chance(0.85) ? r.pick(admins) : null;
    const team = r.chance(0.7) ? r.pick(teams) : null;
    const createdAt = contact.created_at + r.int(60, 5 * DAY);
    const parts: IntercomConversationPart[] = [];
    let t = createdAt;
    if (admin)
      parts.push(
        makeConversationPart(
          {
            partType: 'assignment',
            author: adminAuthor(admin),
            body: null,
            createdAt: (t += r.int(10, 600)),
            assignedTo: { type: 'admin', id: admin.id },
          },
          r,
        ),
      );
    const exchanges = r.int(0, 3);
    for (let k = 0; k < exchanges; k++) {
      if (admin) parts.push(makeConversationPart({ author: adminAuthor(admin), createdAt: (t += r.int(60, 7200)) }, r));
      parts.push(makeConversationPart({ author: contactAuthor(contact), createdAt: (t += r.int(60, 7200)) }, r));
    }
    const state = r.pick(['open', 'closed', 'closed', 'snoozed'] as const);
    if (state === 'closed' && admin)
      parts.push(
        makeConversationPart(
          { partType: 'close', author: adminAuthor(admin), body: null, createdAt: (t += r.int(60, 3600)) },
          r,
        ),
      );
    const rated = state === 'closed' && r.chance(0.6);
    conversations.push(
      makeConversation(
        {
          id: String(515 + base + i * 3),
          contact,
          admin,
          team,
          createdAt,
          state,
          priority: r.chance(0.2) ? 'priority' : 'not_priority',
          title: r.chance(0.5) ? r.pick(['Login issue', 'Order status', 'Data export', 'Invoice']) : null,
          tags: r.subset(tags, 2),
          rating: rated
            ? {
                rating: r.int(1, 5),
                remark: r.pick(['', 'Quick and helpful', 'Took too long']),
                createdAt: t + r.int(60, 3600),
              }
            : null,
          parts,
          sourceType: r.pick(['conversation', 'conversation', 'email', 'whatsapp'] as const),
          customAttributes: { issue_type: r.pick(['Billing', 'Bug', 'How-to']), order_value: r.int(0, 900) },
          slaStatus: r.chance(0.7) ? r.pick(['hit', 'missed', 'active'] as const) : null,
          countReopens: r.int(0, 2),
        },
        r,
      ),
    );
  }

  const tickets: IntercomTicket[] = [];
  for (let i = 0; i < ticketCount && contacts.length > 0; i++) {
    const contact = r.pick(contacts);
    const admin = r.pick(admins);
    const team = r.chance(0.6) ? r.pick(teams) : null;
    const createdAt = contact.created_at + r.int(60, 5 * DAY);
    let t = createdAt;
    // the creation part records the initial state with previous == current (as api.intercom.io does)
    const parts: IntercomTicketPart[] = [
      makeTicketPart({ author: adminAuthor(admin), createdAt: t, previousState: 'submitted', state: 'submitted' }, r),
    ];
    let state: TicketStateCategory = 'submitted';
    const steps = r.int(0, 4);
    for (let k = 0; k < steps; k++) {
      const next: TicketStateCategory | 'comment' = r.pick(NEXT_STATES[state]);
      if (next === 'comment') {
        parts.push(makeTicketPart({ author: contactAuthor(contact), createdAt: (t += r.int(60, 7200)) }, r));
        continue;
      }
      parts.push(
        makeTicketPart(
          { author: adminAuthor(admin), createdAt: (t += r.int(60, 7200)), previousState: state, state: next },
          r,
        ),
      );
      state = next;
    }
    tickets.push(
      makeTicket(
        {
          id: String(633 + base + i * 2),
          ticketId: String(40 + base + i),
          contact,
          admin,
          team,
          ticketType: r.pick(ticketTypes),
          createdAt,
          parts,
          isShared: r.chance(0.5),
        },
        r,
      ),
    );
  }

  return {
    appId,
    admins,
    teams,
    tags,
    subscriptionTypes,
    ticketTypes,
    contacts,
    contactSubscriptions,
    conversations,
    tickets,
    ...(identifierConflict ? { identifierConflict } : {}),
  };
}

/** Ada and Bob of IdentifierConflict, with ids after the generated contacts' and phones no generated contact has. */
function conflictingContacts(first: number, r: Rng, workspaceId: string): IdentifierConflict {
  const id = (i: number) => `6762f0d0c0f1${String(first + i).padStart(12, '0')}`;
  const createdAt = DATASET_EPOCH + 21 * DAY;
  const p1 = '+12025550101';
  const p2 = '+12025550102';
  const before = makeContact(
    {
      id: id(0),
      role: 'user',
      name: 'Ada Conflict',
      email: 'ada.conflict@example.com',
      phone: p1,
      createdAt,
      workspaceId,
    },
    r,
  );
  const holder = makeContact(
    {
      id: id(1),
      role: 'user',
      name: 'Bob Holder',
      email: 'bob.holder@example.com',
      phone: p2,
      createdAt: createdAt + 60,
      workspaceId,
    },
    r,
  );
  const after: IntercomContact = { ...structuredClone(before), phone: p2, updated_at: createdAt + 120 };
  return { before, holder, after };
}

const NEXT_STATES: Record<TicketStateCategory, readonly (TicketStateCategory | 'comment')[]> = {
  submitted: ['in_progress', 'waiting_on_customer', 'comment'],
  in_progress: ['waiting_on_customer', 'resolved', 'comment'],
  waiting_on_customer: ['comment', 'in_progress', 'resolved'],
  resolved: ['in_progress', 'comment'],
};
