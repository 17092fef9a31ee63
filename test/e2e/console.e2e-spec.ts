/**
 * The delivery console in a real browser (Debian's chromium, driven by playwright-core): events
 * flow through the in-process pipeline into the Klaviyo emulator, the console's read model is
 * built from klaviyo.outcomes.v1 and the dead-letter topics, and its pages show them. A poison
 * record is dead-lettered, opened and reprocessed with the operator token; Klaviyo's 429s show on
 * the Pipeline page's chart (scraped from the sink's metrics); a replay is planned and run from the
 * page; the continuous reconciler heals a conversation no webhook brought and reconciles an outage,
 * and the Gaps page shows both. Screenshots go to docs/.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { METRICS } from '@iks/mapping';
import { createKafka, eventToAvro, outageToAvro, topicName } from '@iks/kafka';
import { createReconcilerRunner, type ReconcilerRunner } from '@iks/reconciler';
import {
  conversationLifecycle,
  makeAdmin,
  makeContact,
  makeTeam,
  makeTicketType,
  ticketLifecycle,
  type Dataset,
} from '../../tools/intercom-emulator/src';
import { waitFor } from '../support/wait-for';
import { Pipeline } from './pipeline-harness';
import { startConsole, type ConsoleUnderTest } from './console-harness';
import type { ConsoleService } from '../../apps/console/src/console.service';

const OPERATOR_TOKEN = 'e2e-operator-token-0123456789';
const DOCS = join(__dirname, '..', '..', 'docs');
const NOW = Math.floor(Date.now() / 1000);
const APP_ID = 'e2econsole';

const admin = makeAdmin({ id: '991260201', name: 'Margaret Hamilton', email: 'margaret@support.example.com' });
const team = makeTeam({ id: '5017901', name: 'Escalations', adminIds: [Number(admin.id)] });
const ticketType = makeTicketType({ id: '101', name: 'Bug report', category: 'Customer' });
const ada = makeContact({
  id: '6762f0d0bbbb000000000001',
  role: 'user',
  email: 'ada.console@example.com',
  phone: '+44 20 7946 0958',
  name: 'Ada Lovelace',
  createdAt: NOW - 86400,
  updatedAt: NOW - 86400,
});
const grace = makeContact({
  id: '6762f0d0bbbb000000000002',
  role: 'user',
  email: 'grace.console@example.org',
  name: 'Grace Hopper',
  createdAt: NOW - 86400,
  updatedAt: NOW - 86400,
});
// a conversation Intercom holds whose webhooks never came: the reconciler finds and heals it
const missed = conversationLifecycle({
  contact: grace,
  admin,
  team,
  startAt: NOW - 5400,
  appId: APP_ID,
  id: '717171',
  rating: 4,
}).at(-1)!.data.item;
const dataset: Dataset = {
  appId: APP_ID,
  admins: [admin],
  teams: [team],
  tags: [],
  subscriptionTypes: [],
  ticketTypes: [ticketType],
  contacts: [ada, grace],
  contactSubscriptions: { [ada.id]: [], [grace.id]: [] },
  conversations: [missed as never],
  tickets: [],
};

describe('delivery console (chromium)', () => {
  let pipeline: Pipeline;
  let consoleApp: ConsoleUnderTest | undefined;
  let service: ConsoleService;
  let browser: Browser;
  let sinkMetrics: Server;
  let reconciler: ReconcilerRunner | undefined;
  let url = '';

  beforeAll(async () => {
    pipeline = await Pipeline.start({ dataset });
    // the sink's /metrics, as the sink app serves it, for the console's 429 chart
    sinkMetrics = createServer((_req, res) => void pipeline.sinkRegistry.metrics().then((text) => res.end(text)));
    await new Promise<void>((res) => sinkMetrics.listen(0, '127.0.0.1', res));
    const metricsUrl = `http://127.0.0.1:${(sinkMetrics.address() as { port: number }).port}/metrics`;
    consoleApp = await startConsole(pipeline, {
      CONSOLE_OPERATOR_TOKEN: OPERATOR_TOKEN,
      CONSOLE_SINK_METRICS_URLS: metricsUrl,
    });
    ({ url, service, browser } = consoleApp);
  }, 60_000);

  afterAll(async () => {
    await reconciler?.stop();
    await consoleApp?.close();
    sinkMetrics?.close();
    await pipeline?.stop();
  });

  it('shows the metrics with their counts, a person, a dead letter, and reprocesses it', async () => {
    // Klaviyo throttles the first two requests: the sink waits and retries (the chart counts them)
    await service.throttling.scrape();
    pipeline.klaviyo.faults.next429(2, 1);
    // Ada's conversation (4 conversation metrics), Grace's and Ada's tickets (5 ticket metrics each)
    await pipeline.deliver([
      ...conversationLifecycle({
        contact: ada,
        admin,
        team,
        startAt: NOW - 7200,
        appId: APP_ID,
        id: '515151',
        rating: 5,
        remark: 'great',
      }),
      ...ticketLifecycle({
        contact: grace,
        admin,
        team,
        startAt: NOW - 3600,
        appId: APP_ID,
        id: '8008',
        ticketType,
        title: 'Export fails',
        description: 'CSV',
        isShared: true,
      }),
      ...ticketLifecycle({
        contact: ada,
        admin,
        team,
        startAt: NOW - 1800,
        appId: APP_ID,
        id: '8009',
        ticketType,
        title: 'Login',
        description: 'SSO',
        isShared: true,
        seed: 3,
      }),
    ]);
    // a poison record on klaviyo.events.v1: valid Avro, properties that are not JSON
    const eventsTopic = topicName('events', pipeline.prefix);
    await pipeline.produce('events', [
      {
        key: grace.id,
        value: {
          ...eventToAvro({
            kind: 'event',
            metric: 'Ticket Resolved',
            unique_id: 'poison-1',
            time: '2026-01-01T00:00:00Z',
            profile: { email: grace.email! },
            properties: {},
            backfill: false,
            intercom_contact_id: grace.id,
            source_notification_id: 'poison',
            source_topic: 'ticket.resolved',
          }),
          properties_json: '{not json',
        },
      },
    ]);
    await pipeline.quiesce(60_000);

    const expected = new Map(Object.values(METRICS).map((m) => [m as string, pipeline.events(m).length]));
    expect([...expected.values()].every((n) => n > 0)).toBe(true); // all nine reached Klaviyo
    await waitFor(
      () =>
        [...expected].every(([m, n]) => (service.model.metrics.get(m)?.delivered ?? 0) === n) &&
        service.model.letters.size === 1,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: 'the read model to see every outcome and the dead letter',
      },
    ).catch((e: Error) => {
      const seen = [...expected]
        .map(([m, n]) => `${m}: ${service.model.metrics.get(m)?.delivered ?? 0}/${n}`)
        .join(', ');
      throw new Error(
        `${e.message}; ${service.model.outcomes} outcome(s), ${service.model.letters.size} dead letter(s); ${seen}`,
      );
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
    for (const m of ['Conversation Created', 'Conversation Rated', 'Ticket Created', 'Ticket Resolved'])
      expect(personText).toContain(m);
    // one row per record the sink consumed: every event Klaviyo holds for her, plus the ticket's repeated Resolved (same unique_id)
    expect(await page.locator('#person-events tr').count()).toBe(
      1 + pipeline.events().filter((e) => e.profile.email === ada.email).length + 1,
    );
    // each event's webhook-received time (ingest's received_at, via the iks-received-at header), no later than its mapping
    // (columns: metric, unique_id, happened in Intercom, received, mapped, …)
    const times = await page
      .locator('#person-events tr:has(td)')
      .evaluateAll((rows) => rows.map((r) => [r.children[3].textContent ?? '', r.children[4].textContent ?? '']));
    expect(times.length).toBeGreaterThan(0);
    for (const [received, mapped] of times) {
      expect(received).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(Date.parse(received)).toBeLessThanOrEqual(Date.parse(mapped));
    }
    await page.screenshot({ path: join(DOCS, 'console-person.png'), fullPage: true });

    // Pipeline: lag per partition, Klaviyo's two 429s, the poison record among the dead letters
    await service.throttling.scrape();
    await page.goto(`${url}/pipeline`);
    expect(await page.locator('#lag').innerText()).toContain(eventsTopic);
    expect(await page.locator('#klaviyo-throttling [data-series="Klaviyo 429s"]').innerText()).toBe(
      '■ Klaviyo 429s: 2',
    );
    expect(await page.locator('#klaviyo-throttling [data-series="request retries"]').innerText()).toMatch(
      /request retries: [1-9]/,
    );
    expect(await page.locator('#dlq-reasons').innerText()).toContain('RecordDecodeError');
    await page.locator('#dlq a').first().click();
    expect(await page.locator('#reason').innerText()).toContain('RecordDecodeError');
    expect(await page.locator('#decoded').innerText()).toContain('poison-1');

    // Reprocess: refused without the operator token, sent back with it (after the confirmation)
    page.on('dialog', (d) => void d.accept());
    await page.fill('#operator-token', 'wrong-token-000000000');
    await page.click('#reprocess');
    await waitFor(async () => (await page.locator('#result').innerText()).includes('refused (403)'), {
      timeoutMs: 5000,
      what: 'refusal',
    });
    await page.fill('#operator-token', OPERATOR_TOKEN);
    await page.click('#reprocess');
    await waitFor(async () => (await page.locator('#result').innerText()).includes(`sent to ${eventsTopic}`), {
      timeoutMs: 10_000,
      what: 'reprocess',
    });
    await page.screenshot({ path: join(DOCS, 'console-dead-letter.png'), fullPage: true });
    // the sink read it again (still poison): a second dead letter that says where it came from
    await waitFor(
      () =>
        [...service.model.letters.values()].some((l) =>
          l.letter?.headers.some((h) => h.key === 'iks-reprocessed-from'),
        ),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: 'the reprocessed record to come back through the sink',
      },
    );
    await page.close();

    // a cross-site action is refused even with the token
    const res = await fetch(`${url}/api/dead-letters/reprocess`, {
      method: 'POST',
      body: JSON.stringify({ at: [...service.model.letters.keys()][0] }),
      headers: {
        'content-type': 'application/json',
        'x-console-operator-token': OPERATOR_TOKEN,
        origin: 'http://evil.example',
      },
    });
    expect(res.status).toBe(403);
    // no secret reaches a page
    for (const path of [
      '/metrics',
      '/pipeline',
      `/dead-letters/${encodeURIComponent([...service.model.letters.keys()][0])}`,
    ]) {
      const html = await (await fetch(url + path)).text();
      expect(html).not.toContain(OPERATOR_TOKEN);
      expect(html).not.toContain('pk_e2e_0123456789abcdef');
    }
  }, 90_000);

  it('plans a replay on the Pipeline page, refuses it without the operator token, runs it after confirmation', async () => {
    const eventsTopic = topicName('events', pipeline.prefix);
    const admin = createKafka(pipeline.configs.sink.kafka).admin();
    await admin.connect();
    const end = (await admin.fetchTopicOffsets(eventsTopic)).reduce((n, p) => n + Number(p.high), 0);
    await admin.disconnect();
    const stored = pipeline.klaviyo.store.events.length;
    const ignoredBefore = pipeline.klaviyo.store.duplicateEventsIgnored;

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${url}/pipeline`);
    await page.selectOption('#replay-topic', eventsTopic);
    await page.click('#replay-plan');
    await waitFor(async () => (await page.locator('#replay-plan-lines').innerText()).includes('refused (403)'), {
      timeoutMs: 5000,
      what: 'a plan refused without the token',
    });
    await page.fill('#operator-token', OPERATOR_TOKEN);
    await page.click('#replay-plan');
    await waitFor(async () => (await page.locator('#replay-plan-lines').innerText()).includes('record(s) in total'), {
      timeoutMs: 10_000,
      what: 'the plan',
    });
    expect(await page.locator('#replay-plan-lines').innerText()).toContain(`plan: ${end} record(s) in total`);
    await page.click('#replay-start');
    await waitFor(async () => (await page.locator('#replay-status').innerText()).startsWith('done:'), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the replay to end',
    });
    expect(await page.locator('#replay-status').innerText()).toContain(`${end} of ${end} record(s)`);
    // every event went to Klaviyo again and Klaviyo kept the first of each: nothing doubled
    expect(pipeline.klaviyo.store.events.length).toBe(stored);
    expect(pipeline.klaviyo.store.duplicateEventsIgnored - ignoredBefore).toBeGreaterThanOrEqual(stored);
    await page.screenshot({ path: join(DOCS, 'console-pipeline.png'), fullPage: true });
    await page.close();
  }, 90_000);

  it("shows the reconciler's reports on the Gaps page: a conversation healed, an outage reconciled", async () => {
    reconciler = await createReconcilerRunner(
      pipeline.config('reconciler', {
        RECONCILE_INTERVAL_MS: '600000',
        RECONCILE_WINDOW_MS: String(26 * 3600_000),
        RECONCILE_SETTLE_MS: '0',
        RECONCILE_INDEX_DIR: mkdtempSync(join(tmpdir(), 'iks-console-')),
      }),
    );
    await reconciler.start();
    // ingest's marker of a time it answered 503 (as the NotificationWriter writes it)
    const since = Date.now() - 600_000;
    await pipeline.produce('outages', [
      {
        key: `ingest@e2e:${since}`,
        value: outageToAvro({ since, until: since + 20_000, failed_writes: 3, reporter: 'ingest@e2e' }),
      },
    ]);
    await waitFor(
      () =>
        service.gaps.outages.get(`ingest@e2e:${since}`)?.reconciledAt != null &&
        service.gaps.reports.some((r) => r.trigger === 'outage'),
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'the outage reconciled and its report',
      },
    ).catch((e: Error) => {
      const seen = {
        reports: service.gaps.reports.map((r) => `${r.trigger} ${r.outcome} ${r.error ?? ''}`),
        outages: [...service.gaps.outages.values()],
        last: reconciler!.reconciler.last,
      };
      throw new Error(
        `${e.message}; console: ${JSON.stringify(seen)}; reconciler readiness: ${JSON.stringify(reconciler!.readiness())}`,
      );
    });
    // the healed conversation reaches Klaviyo through the pipeline
    await waitFor(() => pipeline.events('Conversation Rated').some((e) => e.unique_id.includes('717171')), {
      timeoutMs: 60_000,
      what: 'the healed conversation in Klaviyo',
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${url}/gaps`);
    expect(await page.locator('#outages').innerText()).toMatch(/ingest@e2e\s.*\s3\s+reconciled/);
    const totals = await page.locator('#gap-totals').innerText();
    expect(totals).toMatch(/Conversation Created\s+1\s+1/);
    expect(totals).toMatch(/Conversation Rated\s+1\s+1/);
    expect(await page.locator('#reports').innerText()).toMatch(/schedule[\s\S]*ok/);
    await page.screenshot({ path: join(DOCS, 'console-gaps.png'), fullPage: true });
    await page.close();
  }, 120_000);
});
