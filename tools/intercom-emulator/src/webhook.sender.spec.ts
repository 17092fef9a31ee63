import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { contract as loadContract, expectValidComponent } from './__tests__/contract.helper';
import { generateDataset } from './dataset';
import { makeCompany, makeTicketType } from './factories';
import {
  CONTACT_TAG_TOPICS,
  CONTACT_TOPICS,
  CONVERSATION_TOPICS,
  TICKET_TOPICS,
  contactArchivedNotification,
  contactDeletedNotification,
  contactNotification,
  contactTagNotification,
  conversationLifecycle,
  conversationNotification,
  itemComponentsFor,
  ticketLifecycle,
  ticketNotification,
  unknownTopicNotification,
} from './notifications';
import { buildNotification, sendWebhook, signBody, type IntercomNotification } from './webhook.sender';

const contract = loadContract();
const dataset = generateDataset({ seed: 9, contacts: 20, conversations: 10, tickets: 10 });
const SECRET = 'client-secret-123';

function expectValidNotification(n: IntercomNotification): void {
  expect(n).toMatchObject({ type: 'notification_event', data: { type: 'notification_event_data' }, links: {}, delivery_status: 'pending' });
  expect(n.id).toMatch(/^notif_[0-9a-f-]{36}$/);
  expect(Number.isInteger(n.created_at) && Number.isInteger(n.first_sent_at)).toBe(true);
  const { item, parts } = itemComponentsFor(n.topic, n.data.item as object);
  if (item) expectValidComponent(contract, item, n.data.item);
  for (const [key, component] of Object.entries(parts ?? {})) expectValidComponent(contract, component, (n.data.item as Record<string, unknown>)[key]);
  expect(item ?? parts).toBeDefined();
}

/** A webhook receiver that answers with the scripted statuses (then 200) and records raw bodies. */
async function receiver(script: (number | 'hang')[] = []) {
  const received: { rawBody: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ rawBody: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const step = script.shift() ?? 200;
      if (step === 'hang') return; // never answers: the sender must time out
      res.writeHead(step).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/intercom`,
    received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('notification builders', () => {
  const contact = dataset.contacts[0];
  const lead = { ...dataset.contacts[1], role: 'lead' as const };
  const tag = dataset.tags[0];

  it('build the Intercom envelope with unique notif_ ids', () => {
    const a = buildNotification('contact.user.created', contact, { appId: 'app1', createdAt: 1767225600 });
    const b = buildNotification('contact.user.created', contact);
    expect(a).toEqual({
      type: 'notification_event',
      app_id: 'app1',
      data: { type: 'notification_event_data', item: contact },
      links: {},
      id: expect.stringMatching(/^notif_/),
      topic: 'contact.user.created',
      delivery_status: 'pending',
      delivery_attempts: 1,
      delivered_at: 0,
      first_sent_at: 1767225600,
      created_at: 1767225600,
      self: null,
    });
    expect(a.id).not.toBe(b.id);
  });

  it('every topic carries an item valid against its 2.14 component', () => {
    const all: IntercomNotification[] = [
      ...CONVERSATION_TOPICS.map((t) => conversationNotification(t, dataset.conversations[0])),
      ...TICKET_TOPICS.map((t) => ticketNotification(t, dataset.tickets[0])),
      ...CONTACT_TOPICS.map((t) => contactNotification(t, t.includes('lead') ? lead : contact)),
      ...CONTACT_TAG_TOPICS.map((t) => contactTagNotification(t, t.includes('lead') ? lead : contact, tag)),
      contactDeletedNotification(contact),
      contactDeletedNotification(contact, { full: true }),
      contactArchivedNotification(contact),
      unknownTopicNotification(makeCompany({ id: 'c1' })),
    ];
    for (const n of all) expectValidNotification(n);
    expect(all.map((n) => n.topic)).toEqual(expect.arrayContaining(['contact.deleted', 'contact.archived', 'company.created', 'contact.lead.tag.created']));
    expect(contactDeletedNotification(contact).data.item).toEqual({ type: 'contact', id: contact.id, external_id: contact.external_id, deleted: true });
    expect(contactTagNotification('contact.user.tag.created', contact, tag).data.item).toMatchObject({ type: 'contact_tag', contact: { id: contact.id }, tag: { type: 'tag', id: tag.id, name: tag.name } });
  });
});

describe('scenarios', () => {
  const [contact] = dataset.contacts;
  const [admin] = dataset.admins;
  const [team] = dataset.teams;

  it('conversationLifecycle: created → user replied → read → rated, each a valid snapshot', () => {
    const ns = conversationLifecycle({ contact, admin, team, startAt: 1767300000, seed: 3 });
    expect(ns.map((n) => n.topic)).toEqual(['conversation.user.created', 'conversation.user.replied', 'conversation.read', 'conversation.rating.added']);
    for (const n of ns) expectValidNotification(n);
    expect(new Set(ns.map((n) => n.id)).size).toBe(4);
    expect(new Set(ns.map((n) => n.data.item.id)).size).toBe(1);
    const created = ns.map((n) => n.created_at);
    expect([...created].sort((a, b) => a - b)).toEqual(created);
    const replied = ns[1].data.item;
    const lastUserPart = replied.conversation_parts!.conversation_parts.filter((p) => p.author.type === contact.role).at(-1)!;
    expect(lastUserPart.created_at).toBe(ns[1].created_at);
    expect(ns[3].data.item.conversation_rating).toMatchObject({ rating: 5, created_at: ns[3].created_at, contact: { id: contact.id } });
    expect(ns[3].data.item.state).toBe('closed');
    expect(ns[0].data.item.admin_assignee_id).toBe(Number(admin.id));
    // deterministic for a seed
    expect(JSON.stringify(conversationLifecycle({ contact, admin, team, startAt: 1767300000, seed: 3 }))).toBe(JSON.stringify(ns));
  });

  it('ticketLifecycle: created → submitted → waiting → contact replied → resolved (state.updated + resolved)', () => {
    const ns = ticketLifecycle({ contact, admin, team, startAt: 1767400000, ticketType: makeTicketType({ id: '100', category: 'Customer' }) });
    expect(ns.map((n) => [n.topic, n.data.item.ticket_state.category])).toEqual([
      ['ticket.created', 'in_progress'],
      ['ticket.state.updated', 'submitted'],
      ['ticket.state.updated', 'waiting_on_customer'],
      ['ticket.contact.replied', 'waiting_on_customer'],
      ['ticket.state.updated', 'resolved'],
      ['ticket.resolved', 'resolved'],
    ]);
    for (const n of ns) expectValidNotification(n);
    // each state change is recorded by a part whose ticket_state is the new category and previous_ticket_state is not
    for (const n of ns.filter((x) => x.topic === 'ticket.state.updated')) {
      const change = n.data.item.ticket_parts.ticket_parts.filter((p) => p.ticket_state === n.data.item.ticket_state.category && p.previous_ticket_state !== p.ticket_state).at(-1);
      expect(change?.created_at).toBe(n.created_at);
    }
    const [resolvedState, resolved] = ns.slice(-2);
    expect(resolved.data.item).toEqual(resolvedState.data.item);
    expect(resolved.id).not.toBe(resolvedState.id);
    expect(resolved.data.item.open).toBe(false);
    const reply = ns[3].data.item.ticket_parts.ticket_parts.at(-1)!;
    expect(reply).toMatchObject({ part_type: 'comment', author: { type: 'user', id: contact.id } });
    expect(ns[0].data.item.ticket_attributes).toEqual({ _default_title_: 'Export fails', _default_description_: 'CSV export times out' });
  });
});

describe('sendWebhook', () => {
  const notification = contactNotification('contact.user.created', dataset.contacts[2]);

  it('signs the raw body with HMAC-SHA1 of the client secret (X-Hub-Signature: sha1=<hex>)', async () => {
    const r = await receiver();
    try {
      const result = await sendWebhook(r.url, notification, { secret: SECRET });
      expect(result.delivered).toBe(true);
      expect(r.received).toHaveLength(1);
      const { rawBody, headers } = r.received[0];
      const expected = `sha1=${createHmac('sha1', SECRET).update(Buffer.from(rawBody, 'utf8')).digest('hex')}`;
      expect(headers['x-hub-signature']).toBe(expected);
      expect(headers['x-hub-signature']).toMatch(/^sha1=[0-9a-f]{40}$/);
      expect(headers['content-type']).toBe('application/json');
      expect(signBody(rawBody, SECRET)).toBe(expected);
      expect(signBody(rawBody, 'other-secret')).not.toBe(expected);
      expect(JSON.parse(rawBody)).toEqual(notification);
    } finally {
      await r.close();
    }
  });

  it('redelivers after a 500 with the same notification id and delivery_attempts + 1', async () => {
    const r = await receiver([500]);
    try {
      const result = await sendWebhook(r.url, notification, { secret: SECRET, retryDelayMs: 50 });
      expect(result.delivered).toBe(true);
      expect(result.attempts.map((a) => a.status)).toEqual([500, 200]);
      const bodies = r.received.map((x) => JSON.parse(x.rawBody) as IntercomNotification);
      expect(bodies.map((b) => b.id)).toEqual([notification.id, notification.id]);
      expect(bodies.map((b) => b.delivery_attempts)).toEqual([1, 2]);
      expect(bodies[1].first_sent_at).toBe(bodies[0].first_sent_at);
      for (const x of r.received) expect(x.headers['x-hub-signature']).toBe(signBody(x.rawBody, SECRET));
    } finally {
      await r.close();
    }
  });

  it('treats no answer within timeoutMs as a failure and redelivers', async () => {
    const r = await receiver(['hang']);
    try {
      const result = await sendWebhook(r.url, notification, { secret: SECRET, timeoutMs: 200, retryDelayMs: 10 });
      expect(result.delivered).toBe(true);
      expect(result.attempts[0].error).toMatch(/timeout/);
      expect(result.attempts[1].status).toBe(200);
    } finally {
      await r.close();
    }
  });

  it('gives up after maxAttempts, and sends once with retry: false', async () => {
    const r = await receiver([503, 503, 503, 503]);
    try {
      const twice = await sendWebhook(r.url, notification, { secret: SECRET, retryDelayMs: 10 });
      expect(twice).toMatchObject({ delivered: false, attempts: [{ status: 503 }, { status: 503 }] });
      const once = await sendWebhook(r.url, notification, { secret: SECRET, retry: false });
      expect(once.attempts).toHaveLength(1);
      expect(r.received).toHaveLength(3);
    } finally {
      await r.close();
    }
  });
});
