import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateDataset } from './dataset';
import { startIntercomEmulator } from './emulator.server';
import { buildPing, describePing, signBody, WebhookSender } from './webhook.sender';

const SECRET = 'client-secret-123';
const dataset = generateDataset({ seed: 9, contacts: 5, conversations: 2, tickets: 2 });

/** Issue #19: the ping as Intercom documents it, byte for byte. */
const INTERCOM_PING =
  '{"type":"notification_event","app_id":"ab12cd34",' +
  '"data":{"type":"notification_event_data","item":{"type":"ping","message":"something something interzen"}},' +
  '"links":{},"id":null,"topic":"ping","delivery_status":null,"delivery_attempts":1,' +
  '"delivered_at":0,"first_sent_at":1449238939,"created_at":1449238939,"self":null}';

/** A webhook endpoint that answers `status` with `answer` and records what it received. */
async function endpoint(status = 200, answer = '{"status":"pong"}') {
  const received: { rawBody: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ rawBody: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(status, { 'content-type': 'application/json' }).end(answer);
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

describe('the Intercom ping (issue #19)', () => {
  it('is built field for field as Intercom documents it', () => {
    expect(JSON.stringify(buildPing('ab12cd34', 1449238939))).toBe(INTERCOM_PING);
  });

  it('is sent signed, once, whatever the answer; counted; described in one line', async () => {
    const ok = await endpoint();
    const refused = await endpoint(401, '{"message":"X-Hub-Signature does not match the body"}');
    const sender = new WebhookSender({ url: ok.url, secret: SECRET, appId: 'ab12cd34', retryDelayMs: 10 });
    try {
      const r = await sender.ping('subscription created');
      expect(r).toMatchObject({
        reason: 'subscription created',
        url: ok.url,
        status: 200,
        answer: '{"status":"pong"}',
      });
      expect(ok.received).toHaveLength(1);
      const sent = ok.received[0];
      expect(sent.headers['x-hub-signature']).toBe(signBody(sent.rawBody, SECRET));
      expect(JSON.parse(sent.rawBody)).toEqual({
        ...JSON.parse(INTERCOM_PING),
        created_at: expect.any(Number),
        first_sent_at: expect.any(Number),
      });
      expect(describePing(r)).toMatch(
        /^webhook ping \(subscription created\) to http:\/\/127\.0\.0\.1:\d+\/webhooks\/intercom: answered 200 \{"status":"pong"\} in \d+ ms$/,
      );

      sender.retarget(refused.url);
      const bad = await sender.ping('interval');
      expect(refused.received).toHaveLength(1); // no retry of a ping
      expect(describePing(bad)).toMatch(
        /: NOT healthy, answered 401 \{"message":"X-Hub-Signature does not match the body"\} in \d+ ms$/,
      );
      await refused.close();
      expect(describePing(await sender.ping('interval'))).toMatch(/: NO answer \(.+\) after \d+ ms$/);
      expect(sender.stats().pings).toMatchObject({ sent: 3, answered: 1, failed: 2, last: { reason: 'interval' } });
      expect(sender.stats()).toMatchObject({ attempts: 0, delivered: 0, dropped: 0 }); // pings are not notifications
    } finally {
      sender.close();
      await ok.close();
      await refused.close();
    }
  });

  it('goes out when a subscription is created or changed through the admin API, and on the configured interval', async () => {
    const first = await endpoint();
    const second = await endpoint();
    const seen: string[] = [];
    const emulator = await startIntercomEmulator({
      port: 0,
      dataset,
      clientSecret: SECRET,
      pingIntervalMs: 150,
      onPing: (r) => seen.push(`${r.reason} ${r.status}`),
    });
    const put = (body: unknown) =>
      fetch(`${emulator.url}/__emulator/webhooks/subscription`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      expect((await fetch(`${emulator.url}/__emulator/webhooks/subscription`)).status).toBe(404);
      expect((await put({ topics: ['ticket.created'] })).status).toBe(400); // no URL to create it with
      expect((await put({ url: 'ftp://x' })).status).toBe(400);

      const created = await put({ url: first.url, topics: ['conversation.user.created'] });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({
        subscription: { url: first.url, topics: ['conversation.user.created'] },
        ping: { reason: 'subscription created', status: 200, answer: '{"status":"pong"}' },
      });
      expect(JSON.parse(first.received[0].rawBody)).toMatchObject({
        topic: 'ping',
        id: null,
        app_id: dataset.appId,
        data: { item: { type: 'ping' } },
      });
      expect(first.received[0].headers['x-hub-signature']).toBe(signBody(first.received[0].rawBody, SECRET));

      const changed = await put({ url: second.url });
      expect(changed.status).toBe(200);
      expect(await changed.json()).toMatchObject({
        subscription: { url: second.url, topics: ['conversation.user.created'] },
        ping: { reason: 'subscription changed', status: 200 },
      });
      expect(second.received).toHaveLength(1);

      const deadline = Date.now() + 5000;
      while (second.received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(second.received.length).toBeGreaterThanOrEqual(3);
      // an interval ping may fall between the two PUTs on a slow machine: order, not position
      expect(seen[0]).toBe('subscription created 200');
      const changedAt = seen.indexOf('subscription changed 200');
      expect(changedAt).toBeGreaterThan(0);
      expect(seen.slice(changedAt + 1)).toContain('interval 200');
      expect(seen.filter((s) => !s.endsWith(' 200'))).toEqual([]);
      expect(
        ((await (await fetch(`${emulator.url}/__emulator/webhooks`)).json()) as { pings: { answered: number } }).pings
          .answered,
      ).toBeGreaterThanOrEqual(3);
    } finally {
      await emulator.close();
      await first.close();
      await second.close();
    }
  });

  it('needs a client secret to sign with', async () => {
    const emulator = await startIntercomEmulator({ port: 0, dataset });
    try {
      const res = await fetch(`${emulator.url}/__emulator/webhooks/subscription`, {
        method: 'PUT',
        body: JSON.stringify({ url: 'http://127.0.0.1:1/x' }),
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toContain('no client secret configured');
    } finally {
      await emulator.close();
    }
  });
});
