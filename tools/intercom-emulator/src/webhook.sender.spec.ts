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
  SUBSCRIPTION_TOPICS,
  TICKET_TOPICS,
  contactArchivedNotification,
  contactDeletedNotification,
  contactNotification,
  contactTagNotification,
  conversationLifecycle,
  conversationNotification,
  itemComponentsFor,
  subscriptionNotification,
  ticketLifecycle,
  ticketNotification,
  unknownTopicNotification,
} from './notifications';
import { startIntercomEmulator } from './emulator.server';
import {
  buildNotification,
  DEFAULT_SENDER,
  sendWebhook,
  signBody,
  WebhookSender,
  type IntercomNotification,
} from './webhook.sender';

const contract = loadContract();
const dataset = generateDataset({ seed: 9, contacts: 20, conversations: 10, tickets: 10 });
const SECRET = 'client-secret-123';

function expectValidNotification(n: IntercomNotification): void {
  expect(n).toMatchObject({
    type: 'notification_event',
    data: { type: 'notification_event_data' },
    links: {},
    delivery_status: 'pending',
  });
  expect(n.id).toMatch(/^notif_[0-9a-f-]{36}$/);
  expect(Number.isInteger(n.created_at) && Number.isInteger(n.first_sent_at)).toBe(true);
  const { item, parts } = itemComponentsFor(n.topic, n.data.item as object);
  if (item) expectValidComponent(contract, item, n.data.item);
  for (const [key, component] of Object.entries(parts ?? {}))
    expectValidComponent(contract, component, (n.data.item as Record<string, unknown>)[key]);
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
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
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
      ...SUBSCRIPTION_TOPICS.map((t) => subscriptionNotification(t, contact, dataset.subscriptionTypes[0])),
      subscriptionNotification('contact.unsubscribed', null, dataset.subscriptionTypes[0]),
      contactDeletedNotification(contact),
      contactDeletedNotification(contact, { full: true }),
      contactArchivedNotification(contact),
      unknownTopicNotification(makeCompany({ id: 'c1' })),
    ];
    for (const n of all) expectValidNotification(n);
    expect(all.map((n) => n.topic)).toEqual(
      expect.arrayContaining(['contact.deleted', 'contact.archived', 'company.created', 'contact.lead.tag.created']),
    );
    expect(contactDeletedNotification(contact).data.item).toEqual({
      type: 'contact',
      id: contact.id,
      external_id: contact.external_id,
      deleted: true,
    });
    expect(contactTagNotification('contact.user.tag.created', contact, tag).data.item).toMatchObject({
      type: 'contact_tag',
      contact: { id: contact.id },
      tag: { type: 'tag', id: tag.id, name: tag.name },
    });
    expect(
      subscriptionNotification('contact.unsubscribed', contact, dataset.subscriptionTypes[0]).data.item,
    ).toMatchObject({ type: 'subscription', contact: { type: 'contact', id: contact.id } });
  });
});

describe('scenarios', () => {
  const [contact] = dataset.contacts;
  const [admin] = dataset.admins;
  const [team] = dataset.teams;

  it('conversationLifecycle: created → user replied → read → rated, each a valid snapshot', () => {
    const ns = conversationLifecycle({ contact, admin, team, startAt: 1767300000, seed: 3 });
    expect(ns.map((n) => n.topic)).toEqual([
      'conversation.user.created',
      'conversation.user.replied',
      'conversation.read',
      'conversation.rating.added',
    ]);
    for (const n of ns) expectValidNotification(n);
    expect(new Set(ns.map((n) => n.id)).size).toBe(4);
    expect(new Set(ns.map((n) => n.data.item.id)).size).toBe(1);
    const created = ns.map((n) => n.created_at);
    expect([...created].sort((a, b) => a - b)).toEqual(created);
    const replied = ns[1].data.item;
    const lastUserPart = replied
      .conversation_parts!.conversation_parts.filter((p) => p.author.type === contact.role)
      .at(-1)!;
    expect(lastUserPart.created_at).toBe(ns[1].created_at);
    expect(ns[3].data.item.conversation_rating).toMatchObject({
      rating: 5,
      created_at: ns[3].created_at,
      contact: { id: contact.id },
    });
    expect(ns[3].data.item.state).toBe('closed');
    expect(ns[0].data.item.admin_assignee_id).toBe(Number(admin.id));
    // deterministic for a seed
    expect(JSON.stringify(conversationLifecycle({ contact, admin, team, startAt: 1767300000, seed: 3 }))).toBe(
      JSON.stringify(ns),
    );
  });

  it('ticketLifecycle: created → submitted → waiting → contact replied → resolved (state.updated + resolved)', () => {
    const ns = ticketLifecycle({
      contact,
      admin,
      team,
      startAt: 1767400000,
      ticketType: makeTicketType({ id: '100', category: 'Customer' }),
    });
    expect(ns.map((n) => [n.topic, n.data.item.ticket_state?.category])).toEqual([
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
      const change = n.data.item.ticket_parts.ticket_parts
        .filter(
          (p) => p.ticket_state === n.data.item.ticket_state?.category && p.previous_ticket_state !== p.ticket_state,
        )
        .at(-1);
      expect(change?.created_at).toBe(n.created_at);
    }
    const [resolvedState, resolved] = ns.slice(-2);
    expect(resolved.data.item).toEqual(resolvedState.data.item);
    expect(resolved.id).not.toBe(resolvedState.id);
    expect(resolved.data.item.open).toBe(false);
    const reply = ns[3].data.item.ticket_parts.ticket_parts.at(-1)!;
    expect(reply).toMatchObject({ part_type: 'comment', author: { type: 'user', id: contact.id } });
    expect(ns[0].data.item.ticket_attributes).toEqual({
      _default_title_: 'Export fails',
      _default_description_: 'CSV export times out',
    });
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

describe("WebhookSender (Intercom's delivery: one retry, then pause after consecutive failures)", () => {
  const notification = contactNotification('contact.user.created', dataset.contacts[3]);
  const withId = (i: number): IntercomNotification => ({ ...notification, id: `notif_${String(i).padStart(36, '0')}` });

  it("defaults to Intercom's numbers: 5 s timeout, retry after 60 s, pause 15 min after 1,000 failures in 15 min", () => {
    expect(DEFAULT_SENDER).toEqual({
      timeoutMs: 5000,
      retryDelayMs: 60_000,
      pauseAfterFailures: 1000,
      failureWindowMs: 900_000,
      pauseMs: 900_000,
    });
  });

  it('retries a failed notification exactly once, after retryDelayMs, with delivery_attempts 2', async () => {
    const r = await receiver([500]);
    const sender = new WebhookSender({ url: r.url, secret: SECRET, retryDelayMs: 200 });
    try {
      const started = Date.now();
      const result = await sender.send(notification);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(result.outcome).toBe('delivered-on-retry');
      expect(r.received.map((x) => (JSON.parse(x.rawBody) as IntercomNotification).delivery_attempts)).toEqual([1, 2]);
      expect(sender.stats()).toMatchObject({
        attempts: 2,
        delivered: 1,
        retried: 1,
        dropped: 0,
        consecutiveFailures: 0,
      });
    } finally {
      sender.close();
      await r.close();
    }
  });

  it('drops (and counts) a notification whose retry fails too: never a third attempt; a timeout counts as a failure', async () => {
    const r = await receiver(['hang', 503]);
    const sender = new WebhookSender({ url: r.url, secret: SECRET, retryDelayMs: 200, timeoutMs: 200 });
    try {
      const result = await sender.send(notification);
      expect(result.outcome).toBe('dropped');
      expect(result.attempts[0].error).toMatch(/timeout/);
      expect(result.attempts[1].status).toBe(503);
      await new Promise((res) => setTimeout(res, 300));
      expect(r.received).toHaveLength(2);
      expect(sender.stats()).toMatchObject({
        attempts: 2,
        delivered: 0,
        retried: 1,
        dropped: 1,
        consecutiveFailures: 2,
      });
    } finally {
      sender.close();
      await r.close();
    }
  });

  it('pauses after pauseAfterFailures consecutive failures within the window, counts what it did not send, then sends again', async () => {
    const r = await receiver([500, 500, 500, 500]);
    let clock = 1_000_000;
    const sender = new WebhookSender({
      url: r.url,
      secret: SECRET,
      retryDelayMs: 0,
      pauseAfterFailures: 4,
      failureWindowMs: 60_000,
      pauseMs: 900_000,
      now: () => clock,
    });
    try {
      expect((await sender.send(withId(1))).outcome).toBe('dropped');
      expect((await sender.send(withId(2))).outcome).toBe('dropped'); // the 4th consecutive failure pauses
      expect(sender.paused).toBe(true);
      expect(sender.stats()).toMatchObject({ pauses: 1, pausedUntil: 1_000_000 + 900_000, consecutiveFailures: 0 });
      expect((await sender.send(withId(3))).outcome).toBe('not-sent-paused');
      expect((await sender.send(withId(4))).outcome).toBe('not-sent-paused');
      expect(r.received).toHaveLength(4);
      expect(sender.stats()).toMatchObject({ attempts: 4, dropped: 2, notSentWhilePaused: 2 });

      clock += 900_000; // the pause is over: "after which we start sending as normal again"
      expect(sender.paused).toBe(false);
      expect((await sender.send(withId(5))).outcome).toBe('delivered');
      expect(sender.stats()).toMatchObject({ attempts: 5, delivered: 1, pausedUntil: null });
    } finally {
      sender.close();
      await r.close();
    }
  });

  it('does not pause when the failures are spread wider than failureWindowMs, or broken by a success', async () => {
    const r = await receiver([500, 500, 500, 200, 500, 500, 500]);
    let clock = 0;
    const sender = new WebhookSender({
      url: r.url,
      secret: SECRET,
      retryDelayMs: 0,
      pauseAfterFailures: 3,
      failureWindowMs: 1000,
      pauseMs: 60_000,
      now: () => clock,
    });
    try {
      await sender.send(withId(1)); // 500, 500
      clock += 1500; // the two failures fall out of the window
      expect((await sender.send(withId(2))).outcome).toBe('delivered-on-retry'); // 500, then 200
      expect(sender.paused).toBe(false);
      await sender.send(withId(3)); // 500, 500: a run of 2 after the success
      expect(sender.paused).toBe(false);
      expect(sender.stats()).toMatchObject({ pauses: 0, consecutiveFailures: 2 });
    } finally {
      sender.close();
      await r.close();
    }
  });

  it("is driven over the emulator's admin API: POST /__emulator/webhooks delivers, GET /__emulator/webhooks counts", async () => {
    const r = await receiver([500, 500]);
    const emulator = await startIntercomEmulator({
      port: 0,
      dataset,
      webhooks: { url: r.url, secret: SECRET, retryDelayMs: 200, pauseAfterFailures: 1000 },
    });
    try {
      const post = await fetch(`${emulator.url}/__emulator/webhooks`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify([withId(1), withId(2)]),
      });
      expect(post.status).toBe(202);
      const stats = async () =>
        (await (await fetch(`${emulator.url}/__emulator/webhooks`)).json()) as Record<string, unknown>;
      const deadline = Date.now() + 5000;
      while (((await stats()).delivered as number) < 2 && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 50));
      expect(await stats()).toMatchObject({
        attempts: 4,
        delivered: 2,
        retried: 2,
        dropped: 0,
        notSentWhilePaused: 0,
        pauses: 0,
      });
      expect(r.received).toHaveLength(4);
      expect(
        (await fetch(`${emulator.url}/__emulator/webhooks`, { method: 'POST', body: '{"type":"nope"}' })).status,
      ).toBe(400);
    } finally {
      await emulator.close();
      await r.close();
    }
  });
});
