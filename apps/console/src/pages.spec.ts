import { Eta } from 'eta';
import type { DeliveryOutcome } from '@iks/domain';
import { DeliveryReadModel, GapsModel, SinkThrottling } from '@iks/console';
import { consoleAssets } from './console.app';
import { connectionFilter, gapsPage, letterPage, metricsPage, personPage, pipelinePage } from './page-models';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const outcome = (o: Partial<DeliveryOutcome> = {}): DeliveryOutcome => ({
  topic: 'klaviyo.events.v1',
  partition: 0,
  offset: '1',
  stage: 'sink',
  kind: 'delivered',
  reason: 'delivered',
  error_code: null,
  record_kind: 'event',
  metric: 'Ticket Resolved',
  unique_id: 'u1',
  intercom_contact_id: 'c1',
  email: 'ada@example.com',
  phone_number: null,
  event_time: '2026-01-10T11:00:00Z',
  record_timestamp: NOW - 1000,
  outcome_at: NOW,
  properties_json: '{"a":1}',
  backfill: false,
  source_notification_id: 'n1',
  received_at: NOW - 1500,
  ...o,
});
const eta = new Eta({ views: consoleAssets().views, autoEscape: true });
const render = (t: string, data: object) => eta.render(t, data);
const rows = [{ name: 'Ticket Resolved', intercom: true }];

describe('console pages (templates and page models)', () => {
  it('escape what they show, and carry no inline script or style (the CSP allows files only)', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome({ metric: '<script>alert(1)</script>', unique_id: '"><img src=x onerror=alert(1)>' }));
    const html = render(
      'metrics',
      metricsPage(m, [{ name: '<script>alert(1)</script>', intercom: false }], '<script>alert(1)</script>', NOW, 0),
    );
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const pages = [
      html,
      render('person', personPage(m, 'ada@example.com')),
      render(
        'pipeline',
        pipelinePage(m, [], NOW, {
          canAct: true,
          throttling: new SinkThrottling([]),
          replay: null,
          replayTopics: ['klaviyo.events.v1'],
        }),
      ),
      render('gaps', gapsPage(new GapsModel())),
    ];
    for (const p of pages) {
      expect(p).not.toMatch(/<script>|<script(?![^>]*\ssrc=)[^>]*>/);
      expect(p).not.toMatch(/\sstyle=|<style/);
      expect(p).not.toMatch(/<[^>]*\son[a-z]+=/);
    }
  });

  it('say what each number counts, and the numbers match their rows', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome());
    m.apply(outcome({ offset: '2' })); // same slice, identical
    m.apply(outcome({ offset: '3', outcome_at: NOW + 1 })); // sent again
    m.apply(outcome({ offset: '4', unique_id: 'u2', kind: 'skipped', reason: 'contact_deleted', outcome_at: NOW + 2 }));
    const page = metricsPage(m, rows, 'Ticket Resolved', NOW + 10, 0);
    expect(page.metrics[0]).toEqual(
      expect.objectContaining({ all: 1, repeats: 1, sameRequest: 1, skipped: 1, lastHour: 1 }),
    );
    expect(page.detail!.counts).toEqual({
      total: 4,
      new: 1,
      repeat: 1,
      sameRequest: 1,
      deadLettered: 0,
      skipped: 1,
      retried: 0,
      other: 0,
    });
    const html = render('metrics', page);
    expect(html).toContain('4 row(s)');
    expect(html.match(/data-copy="repeat"/g)).toHaveLength(1);
    expect(html.match(/<code>u1<\/code>/g)).toHaveLength(3);
    const person = personPage(m, 'c1');
    expect(person.counts.total).toBe(person.events.length);
    expect(person.events.map((e) => e.copy ?? e.kind)).toEqual(['new', 'same_request', 'repeat', 'skipped']);
  });

  it('show a deleted person as deleted, at the top, with ids and times only', () => {
    const m = new DeliveryReadModel();
    m.apply(
      outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Ada"}' }),
    );
    m.apply(outcome());
    m.apply(
      outcome({ record_kind: 'deletion', metric: null, unique_id: null, properties_json: null, outcome_at: NOW + 5 }),
    );
    const html = render('person', personPage(m, 'c1'));
    expect(html.indexOf('id="deleted"')).toBeGreaterThan(0);
    expect(html.indexOf('id="deleted"')).toBeLessThan(html.indexOf('person-events'));
    expect(html).toContain('This person was deleted');
    for (const personal of ['ada@example.com', 'first_name', 'Ada', '&quot;a&quot;'])
      expect(html).not.toContain(personal);
    expect(render('person', personPage(m, 'ada@example.com'))).toContain('nothing found');
  });

  it('say "erased" where the personal data of a person whose keys are destroyed was (docs/ERASURE.md)', () => {
    const m = new DeliveryReadModel();
    // what the feed applies for an outcome that no longer opens: ids, times, states
    m.markErased('c1');
    m.apply(outcome({ email: null, phone_number: null, properties_json: null }));
    const html = render('person', personPage(m, 'c1'));
    expect(html).toMatch(/<code>c1<\/code> · erased · erased/);
    m.apply(
      outcome({
        record_kind: 'deletion',
        metric: null,
        unique_id: null,
        email: null,
        phone_number: null,
        properties_json: null,
      }),
    );
    expect(render('person', personPage(m, 'c1'))).toContain('id="erased"');
  });

  it('keep the Pipeline summary and the dead-letter tables in agreement', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome());
    m.apply(outcome({ record_kind: 'profile', metric: null, unique_id: null }));
    m.applyDeadLetter(
      'n.dlq:0:0',
      {
        original_topic: 'intercom.notifications.v1',
        partition: 0,
        offset: '9',
        key: null,
        value: null,
        headers: [],
        stage: 'transformer',
        error_class: 'MappingError',
        error_message: 'pre-2.0 API shape: set the version to 2.x',
        error_code: null,
        retriable: false,
        attempts: 1,
        first_failure_at: NOW,
        last_failure_at: NOW,
      },
      null,
    );
    const page = pipelinePage(m, [], NOW, {
      canAct: false,
      throttling: new SinkThrottling([]),
      replay: null,
      replayTopics: [],
    });
    expect(page.summary.map((r) => [r.key, r.delivered])).toEqual([
      ['event', 1],
      ['profile', 1],
      ['deletion', 0],
    ]);
    expect(page.deadLetters).toEqual(expect.objectContaining({ total: 1, sinkOutcomes: 0, shown: 1 }));
    const html = render('pipeline', page);
    expect(html).toContain('pre-2.0 API shape');
    expect(html).not.toContain('pre-#.#');
    expect(html).toMatch(/<b>1<\/b> dead letter\(s\)/);
    const letter = render('letter', letterPage(m.letters.get('n.dlq:0:0')!, false));
    expect(letter).toContain('pre-2.0 API shape');
  });

  it('filter the rows of a metric and of a person by connection (connection=)', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome({ unique_id: 'u-default' }));
    m.apply(outcome({ offset: '2', unique_id: 'u-shop', connection_id: 'shop-a' }));
    const all = metricsPage(m, rows, 'Ticket Resolved', NOW, 0);
    expect(all.detail!.rows.map((r) => r.uniqueId)).toEqual(['u-shop', 'u-default']);
    const shop = metricsPage(m, rows, 'Ticket Resolved', NOW, 0, 'shop-a');
    expect(shop.detail!.rows.map((r) => r.uniqueId)).toEqual(['u-shop']);
    expect(metricsPage(m, rows, 'Ticket Resolved', NOW, 0, 'default').detail!.rows.map((r) => r.uniqueId)).toEqual([
      'u-default',
    ]);
    expect(personPage(m, 'ada@example.com', 'shop-a').events.map((r) => r.uniqueId)).toEqual(['u-shop']);
    const html = render('metrics', {
      ...shop,
      filter: { ...connectionFilter(['shop-a'], 'shop-a'), action: '/metrics', extra: { metric: 'Ticket Resolved' } },
    });
    expect(html).toContain('<option value="shop-a" selected>shop-a</option>');
    expect(html).toContain('id="connection-filtered"');
    expect(html).toContain('name="metric" value="Ticket Resolved"');
  });
});
