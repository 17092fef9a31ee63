/**
 * The delivery console in a real browser (Debian's chromium, driven by playwright-core): events
 * flow through the in-process pipeline into the Klaviyo emulator, the console's read model is
 * built from klaviyo.outcomes.v1 and the dead-letter topics, and its pages show them. A poison
 * record is dead-lettered, opened and reprocessed with the operator token. Screenshots go to docs/.
 */
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { chromium, type Browser } from 'playwright-core';
import { METRICS } from '@iks/mapping';
import { AvroCodec, createKafka, serdes, topicName } from '@iks/kafka';
import { conversationLifecycle, makeAdmin, makeContact, makeTeam, makeTicketType, ticketLifecycle, type Dataset } from '../../tools/intercom-emulator/src';
import { waitFor } from '../support/wait-for';
import { Pipeline } from './pipeline-harness';
import { createConsoleApp } from '../../apps/console/src/console.app';
import { ConsoleService } from '../../apps/console/src/console.service';

const OPERATOR_TOKEN = 'e2e-operator-token-0123456789';
const DOCS = join(__dirname, '..', '..', 'docs');
const NOW = Math.floor(Date.now() / 1000);
const APP_ID = 'e2econsole';

const admin = makeAdmin({ id: '991260201', name: 'Margaret Hamilton', email: 'margaret@support.example.com' });
const team = makeTeam({ id: '5017901', name: 'Escalations', adminIds: [Number(admin.id)] });
const ticketType = makeTicketType({ id: '101', name: 'Bug report', category: 'Customer' });
const ada = makeContact({ id: '6762f0d0bbbb000000000001', role: 'user', email: 'ada.console@example.com', phone: '+44 20 7946 0958', name: 'Ada Lovelace', createdAt: NOW - 86400, updatedAt: NOW - 86400 });
const grace = makeContact({ id: '6762f0d0bbbb000000000002', role: 'user', email: 'grace.console@example.org', name: 'Grace Hopper', createdAt: NOW - 86400, updatedAt: NOW - 86400 });
const dataset: Dataset = {
  appId: APP_ID, admins: [admin], teams: [team], tags: [], subscriptionTypes: [], ticketTypes: [ticketType], contacts: [ada, grace],
  contactSubscriptions: { [ada.id]: [], [grace.id]: [] }, conversations: [], tickets: [],
};

describe('delivery console (chromium)', () => {
  let pipeline: Pipeline;
  let app: NestFastifyApplication;
  let service: ConsoleService;
  let browser: Browser;
  let url = '';

  beforeAll(async () => {
    pipeline = await Pipeline.start({ dataset });
    app = await createConsoleApp(pipeline.config('cli', { CONSOLE_OPERATOR_TOKEN: OPERATOR_TOKEN }), false);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    service = app.get(ConsoleService);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium', headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await pipeline?.stop();
  });

  it('shows the metrics with their counts, a person, a dead letter, and reprocesses it', async () => {
    // Ada's conversation (4 conversation metrics), Grace's and Ada's tickets (5 ticket metrics each)
    await pipeline.deliver([
      ...conversationLifecycle({ contact: ada, admin, team, startAt: NOW - 7200, appId: APP_ID, id: '515151', rating: 5, remark: 'great' }),
      ...ticketLifecycle({ contact: grace, admin, team, startAt: NOW - 3600, appId: APP_ID, id: '8008', ticketType, title: 'Export fails', description: 'CSV', isShared: true }),
      ...ticketLifecycle({ contact: ada, admin, team, startAt: NOW - 1800, appId: APP_ID, id: '8009', ticketType, title: 'Login', description: 'SSO', isShared: true, seed: 3 }),
    ]);
    // a poison record on klaviyo.events.v1: valid Avro, properties that are not JSON
    const config = pipeline.configs.sink;
    const codec = new AvroCodec(config.kafka);
    await codec.registerAll();
    const eventsTopic = topicName('events', pipeline.prefix);
    const producer = createKafka(config.kafka).producer();
    await producer.connect();
    await producer.send({ topic: eventsTopic, acks: -1, messages: [{ key: grace.id, value: await codec.encode(eventsTopic, {
      ...serdes.eventToAvro({
        kind: 'event', metric: 'Ticket Resolved', unique_id: 'poison-1', time: '2026-01-01T00:00:00Z', profile: { email: grace.email! }, properties: {},
        backfill: false, intercom_contact_id: grace.id, source_notification_id: 'poison', source_topic: 'ticket.resolved',
      }),
      properties_json: '{not json',
    }) }] });
    await producer.disconnect();
    await pipeline.quiesce(60_000);

    const expected = new Map(Object.values(METRICS).map((m) => [m as string, pipeline.events(m).length]));
    expect([...expected.values()].every((n) => n > 0)).toBe(true); // all nine reached Klaviyo
    await waitFor(() => [...expected].every(([m, n]) => (service.model.metrics.get(m)?.delivered ?? 0) === n) && service.model.letters.size === 1, {
      timeoutMs: 30_000, intervalMs: 200, what: 'the read model to see every outcome and the dead letter',
    }).catch((e: Error) => {
      const seen = [...expected].map(([m, n]) => `${m}: ${service.model.metrics.get(m)?.delivered ?? 0}/${n}`).join(', ');
      throw new Error(`${e.message}; ${service.model.outcomes} outcome(s), ${service.model.letters.size} dead letter(s); ${seen}`);
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Metrics: the nine with the Intercom mark and the counts the Klaviyo emulator holds
    await page.goto(`${url}/metrics`);
    for (const [metric, n] of expected) {
      const row = page.locator(`#metrics tr[data-metric="${metric.toLowerCase()}"]`);
      expect(await row.locator('td[data-col=all]').innerText()).toBe(String(n));
      expect(await row.locator('svg.mark').count()).toBe(1);
      expect(await row.locator('td').nth(1).innerText()).toBe(String(n)); // delivered in the last hour
    }
    await page.screenshot({ path: join(DOCS, 'console-metrics.png'), fullPage: true });
    await page.fill('#filter', 'ticket');
    expect(await page.locator('#metrics tr[data-metric]:visible').count()).toBe(5);
    await page.goto(`${url}/metrics?metric=${encodeURIComponent('Conversation Rated')}`);
    expect(await page.locator('#latest-events').innerText()).toContain('"Conversation Rating": 5');
    await page.screenshot({ path: join(DOCS, 'console-metric-latest.png'), fullPage: true });

    // Person: Ada by email, her events through the stages
    await page.goto(`${url}/person?q=${encodeURIComponent(ada.email!)}`);
    const personText = await page.locator('#person-events').innerText();
    for (const m of ['Conversation Created', 'Conversation Rated', 'Ticket Created', 'Ticket Resolved']) expect(personText).toContain(m);
    // one row per record the sink consumed: every event Klaviyo holds for her, plus the ticket's repeated Resolved (same unique_id)
    expect(await page.locator('#person-events tr').count()).toBe(1 + pipeline.events().filter((e) => e.profile.email === ada.email).length + 1);
    await page.screenshot({ path: join(DOCS, 'console-person.png'), fullPage: true });

    // Pipeline: lag per partition, the poison record among the dead letters
    await page.goto(`${url}/pipeline`);
    expect(await page.locator('#lag').innerText()).toContain(eventsTopic);
    expect(await page.locator('#dlq-reasons').innerText()).toContain('RecordDecodeError');
    await page.screenshot({ path: join(DOCS, 'console-pipeline.png'), fullPage: true });
    await page.locator('#dlq a').first().click();
    expect(await page.locator('#reason').innerText()).toContain('RecordDecodeError');
    expect(await page.locator('#decoded').innerText()).toContain('poison-1');

    // Reprocess: refused without the operator token, sent back with it (after the confirmation)
    page.on('dialog', (d) => void d.accept());
    await page.fill('#operator-token', 'wrong-token-000000000');
    await page.click('#reprocess');
    await waitFor(async () => (await page.locator('#result').innerText()).includes('refused (403)'), { timeoutMs: 5000, what: 'refusal' });
    await page.fill('#operator-token', OPERATOR_TOKEN);
    await page.click('#reprocess');
    await waitFor(async () => (await page.locator('#result').innerText()).includes(`sent to ${eventsTopic}`), { timeoutMs: 10_000, what: 'reprocess' });
    await page.screenshot({ path: join(DOCS, 'console-dead-letter.png'), fullPage: true });
    // the sink read it again (still poison): a second dead letter that says where it came from
    await waitFor(() => [...service.model.letters.values()].some((l) => l.letter?.headers.some((h) => h.key === 'iks-reprocessed-from')), {
      timeoutMs: 30_000, intervalMs: 200, what: 'the reprocessed record to come back through the sink',
    });
    await page.close();

    // a cross-site action is refused even with the token
    const res = await fetch(`${url}/api/dead-letters/reprocess`, {
      method: 'POST', body: JSON.stringify({ at: [...service.model.letters.keys()][0] }),
      headers: { 'content-type': 'application/json', 'x-console-operator-token': OPERATOR_TOKEN, origin: 'http://evil.example' },
    });
    expect(res.status).toBe(403);
    // no secret reaches a page
    for (const path of ['/metrics', '/pipeline', `/dead-letters/${encodeURIComponent([...service.model.letters.keys()][0])}`]) {
      const html = await (await fetch(url + path)).text();
      expect(html).not.toContain(OPERATOR_TOKEN);
      expect(html).not.toContain('pk_e2e_0123456789abcdef');
    }
  }, 90_000);
});
