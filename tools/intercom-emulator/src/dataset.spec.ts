import { contract as loadContract, expectValidComponent } from './__tests__/contract.helper';
import { toE164 } from '@iks/mapping';
import { generateDataset } from './dataset';
import {
  uniquePhone,
  makeContact,
  makeConversation,
  makeTicket,
  makeTicketPart,
  adminAuthor,
  contactAuthor,
  makeAdmin,
  makeTeam,
  makeTag,
  makeCompany,
  resetFactoryRng,
} from './factories';

const contract = loadContract();
const expectValid = (component: string, value: unknown) => expectValidComponent(contract, component, value);

describe('generateDataset', () => {
  const dataset = generateDataset({ seed: 42, contacts: 120, conversations: 90, tickets: 60 });

  it('is deterministic: the same seed gives the same JSON, another seed does not', () => {
    expect(JSON.stringify(generateDataset({ seed: 42, contacts: 120, conversations: 90, tickets: 60 }))).toBe(
      JSON.stringify(dataset),
    );
    expect(JSON.stringify(generateDataset({ seed: 43, contacts: 120, conversations: 90, tickets: 60 }))).not.toBe(
      JSON.stringify(dataset),
    );
  });

  it('has the requested sizes and unique ids', () => {
    expect(dataset.contacts).toHaveLength(120);
    expect(dataset.conversations).toHaveLength(90);
    expect(dataset.tickets).toHaveLength(60);
    for (const list of [
      dataset.contacts,
      dataset.conversations,
      dataset.tickets,
      dataset.admins,
      dataset.teams,
      dataset.tags,
    ]) {
      expect(new Set(list.map((o) => o.id)).size).toBe(list.length);
    }
  });

  it('gives every contact its own email and phone, also as Klaviyo sees them (lower-case email, E.164 phone)', () => {
    const big = generateDataset({ seed: 9, contacts: 200, conversations: 0, tickets: 0 });
    const distinct = (values: (string | undefined | null)[]) => {
      const present = values.filter((v): v is string => Boolean(v));
      return [present.length, new Set(present).size];
    };
    const [emails, distinctEmails] = distinct(big.contacts.map((c) => c.email.toLowerCase()));
    expect(distinctEmails).toBe(emails);
    expect(emails).toBeGreaterThan(150);
    for (const region of [undefined, 'US']) {
      const [phones, distinctPhones] = distinct(big.contacts.map((c) => toE164(c.phone, region)));
      expect(distinctPhones).toBe(phones);
      expect(phones).toBeGreaterThan(100);
    }
    expect(big.identifierConflict).toBeUndefined();
    expect(() => generateDataset({ contacts: 10_001 })).toThrow(/contacts must be at most 10,000/);
  });

  it("identifierConflict: Ada and Bob are created with their own phones, then Ada takes Bob's (opt-in)", () => {
    const withConflict = generateDataset({
      seed: 9,
      contacts: 20,
      conversations: 5,
      tickets: 5,
      identifierConflict: true,
    });
    const { before, holder, after } = withConflict.identifierConflict!;
    expect(withConflict.contacts).toHaveLength(22);
    expect(withConflict.contacts.slice(-2)).toEqual([holder, after]);
    expect(after.id).toBe(before.id);
    expect([before.email, holder.email]).toEqual(['ada.conflict@example.com', 'bob.holder@example.com']);
    expect([toE164(before.phone), toE164(holder.phone), toE164(after.phone)]).toEqual([
      '+12025550101',
      '+12025550102',
      '+12025550102',
    ]);
    expect(before.updated_at).toBeLessThan(holder.updated_at);
    expect(holder.updated_at).toBeLessThan(after.updated_at);
    // nobody else holds those identifiers
    const others = withConflict.contacts.slice(0, -2);
    expect(
      others.some(
        (c) =>
          [before.email, holder.email].includes(c.email) ||
          ['+12025550101', '+12025550102'].includes(toE164(c.phone, 'US') ?? ''),
      ),
    ).toBe(false);
    for (const c of [before, holder, after]) expectValid('contact', c);
  });

  it("another workspace (appId, idBase): the same seed's shapes, its own workspace_id and ids no other workspace has", () => {
    const other = generateDataset({
      seed: 42,
      contacts: 120,
      conversations: 90,
      tickets: 60,
      appId: 'ws2us',
      idBase: 100_000,
    });
    expect(other.appId).toBe('ws2us');
    for (const c of other.contacts) expect(c.workspace_id).toBe('ws2us');
    for (const t of other.ticketTypes) expect(t.workspace_id).toBe('ws2us');
    expect(dataset.contacts[0].workspace_id).toBe('emu1a2b3');
    for (const kind of ['contacts', 'conversations', 'tickets', 'admins', 'teams', 'tags'] as const) {
      const mine = new Set(dataset[kind].map((o) => o.id));
      expect(other[kind].filter((o) => mine.has(o.id))).toEqual([]);
    }
    const emails = new Set(dataset.contacts.map((c) => c.email).filter(Boolean));
    expect(other.contacts.filter((c) => c.email && emails.has(c.email))).toEqual([]);
    for (const c of other.contacts) expectValid('contact', c);
    for (const t of other.tickets) expectValid('ticket', t);
    // the default workspace's ids are today's: idBase 0 and the default app_id change nothing
    expect(
      JSON.stringify(
        generateDataset({ seed: 42, contacts: 120, conversations: 90, tickets: 60, appId: 'emu1a2b3', idBase: 0 }),
      ),
    ).toBe(JSON.stringify(dataset));
    expect(dataset.conversations[0].id).toBe('515');
    expect(() => generateDataset({ idBase: -1 })).toThrow(RangeError);
  });

  it('uniquePhone refuses what it cannot make unique', () => {
    expect(uniquePhone(0)).toBe('+14155550000');
    expect(() => uniquePhone(10_000)).toThrow(RangeError);
  });

  it('every object validates against its 2.14 component', () => {
    for (const c of dataset.contacts) expectValid('contact', c);
    for (const c of dataset.conversations) expectValid('conversation', c);
    for (const t of dataset.tickets) expectValid('ticket', t);
    for (const a of dataset.admins) expectValid('admin', a);
    for (const t of dataset.teams) expectValid('team', t);
    for (const t of dataset.tags) expectValid('tag', t);
    for (const s of Object.values(dataset.contactSubscriptions).flat()) expectValid('subscription_type', s);
  });

  it('covers the cases the pipeline must handle', () => {
    const { contacts, conversations, tickets } = dataset;
    expect(contacts.some((c) => c.role === 'user') && contacts.some((c) => c.role === 'lead')).toBe(true);
    expect(contacts.some((c) => c.email === '')).toBe(true);
    expect(contacts.some((c) => c.phone?.startsWith('555-'))).toBe(true);
    expect(contacts.some((c) => c.phone?.startsWith('+44 20 7946 '))).toBe(true);
    expect(contacts.some((c) => c.phone?.startsWith('call me maybe'))).toBe(true);
    expect(contacts.some((c) => c.phone === null)).toBe(true);
    expect(contacts.some((c) => c.tags!.data.length > 0)).toBe(true);
    expect(contacts.some((c) => c.avatar === null) && contacts.some((c) => c.avatar?.image_url)).toBe(true);
    // updated_at ties exist, so pagination has to tie-break on id
    expect(new Set(contacts.map((c) => c.updated_at)).size).toBeLessThan(contacts.length);

    expect(conversations.some((c) => c.conversation_rating !== null)).toBe(true);
    expect(conversations.some((c) => c.sla_applied !== null)).toBe(true);
    expect(conversations.some((c) => c.tags.tags.length > 0)).toBe(true);
    expect(conversations.every((c) => c.admin_assignee_id === null || Number.isInteger(c.admin_assignee_id))).toBe(
      true,
    );
    expect(
      conversations.some((c) =>
        (c.conversation_parts?.conversation_parts ?? []).some(
          (p) => p.author.type === 'user' || p.author.type === 'lead',
        ),
      ),
    ).toBe(true);

    expect(
      tickets.every((t) => typeof t.admin_assignee_id === 'string' && typeof t.team_assignee_id === 'string'),
    ).toBe(true);
    expect(tickets.every((t) => typeof t.ticket_attributes._default_title_ === 'string')).toBe(true);
    const changes = tickets
      .flatMap((t) => t.ticket_parts.ticket_parts)
      .filter((p) => p.ticket_state && p.previous_ticket_state !== p.ticket_state);
    expect(new Set(changes.map((p) => p.ticket_state))).toEqual(
      new Set(['in_progress', 'waiting_on_customer', 'resolved']),
    );
    expect(new Set(tickets.map((t) => t.category))).toEqual(new Set(['Customer', 'Back-office', 'Tracker']));
    expect(tickets.some((t) => t.is_shared) && tickets.some((t) => !t.is_shared)).toBe(true);
    // the ticket's state is the newest state part's
    for (const t of tickets) {
      const last = t.ticket_parts.ticket_parts.filter((p) => p.ticket_state).at(-1);
      expect(t.ticket_state?.category).toBe(last?.ticket_state);
    }
  });
});

describe('factories', () => {
  beforeEach(() => resetFactoryRng());

  it('build valid objects from a few facts', () => {
    const admin = makeAdmin({ id: '42', name: 'Ada Admin' });
    const team = makeTeam({ id: '7', name: 'Support' });
    const tag = makeTag({ id: '5', name: 'vip' });
    const lead = makeContact({ role: 'lead', email: null, phone: '555-0100', tags: [tag] });
    expectValid('contact', lead);
    expect(lead.email).toBe('');
    expect(lead.tags!.data).toEqual([{ id: '5', url: 'https://api.intercom.io/tags/5' }]);
    const conversation = makeConversation({
      contact: lead,
      admin,
      team,
      tags: [tag],
      rating: { rating: 4, createdAt: lead.created_at + 100 },
    });
    expectValid('conversation', conversation);
    expect(conversation.admin_assignee_id).toBe(42);
    expect(conversation.team_assignee_id).toBe(7);
    expect(conversation.source.author).toEqual({ type: 'lead', id: lead.id, name: lead.name });
    const ticket = makeTicket({
      contact: lead,
      admin,
      team,
      parts: [
        makeTicketPart({
          author: adminAuthor(admin),
          createdAt: lead.created_at + 10,
          previousState: 'submitted',
          state: 'submitted',
        }),
        makeTicketPart({ author: contactAuthor(lead), createdAt: lead.created_at + 20 }),
        makeTicketPart({
          author: adminAuthor(admin),
          createdAt: lead.created_at + 30,
          previousState: 'submitted',
          state: 'resolved',
        }),
      ],
    });
    expectValid('ticket', ticket);
    expect(ticket.admin_assignee_id).toBe('42');
    expect(ticket.ticket_state).toMatchObject({ type: 'ticket_state', category: 'resolved' });
    expect(ticket.open).toBe(false);
    expect(ticket.ticket_parts.ticket_parts[1].author.type).toBe('user');
    expectValid('company', makeCompany());
  });

  it('are repeatable after resetFactoryRng', () => {
    const a = makeContact();
    resetFactoryRng();
    expect(makeContact()).toEqual(a);
  });
});
