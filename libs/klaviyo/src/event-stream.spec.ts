import { KlaviyoApiError } from './klaviyo-api.error';
import { RateBudget } from './rate-budget';
import { eventRecord } from './__tests__/fixtures';
import { bulkEntries, klaviyoHarness, submitAll, uniqueIds } from './__tests__/delivery-harness';
import { defaultResponder, klaviyoError } from './__tests__/klaviyo-test-double';

const events = (n: number, from = 0) => Array.from({ length: n }, (_, i) => eventRecord({ unique_id: `u${from + i}` }));

/** Delivered in a bulk request: with the time it was answered (copies merged into one request share it). */
const BULK_DELIVERED = { status: 'delivered', requestAt: expect.any(Number) };

describe('KlaviyoEventStream', () => {
  const h = klaviyoHarness();

  it('delivers events in one contract-valid bulk request, one result per record', async () => {
    const records = events(5);
    const results = await submitAll(h.delivery(), records, 'live');
    expect(results).toEqual(records.map(() => BULK_DELIVERED));
    expect(h.klaviyo.requests).toHaveLength(1);
    expect(h.klaviyo.requests[0].path).toBe('/api/event-bulk-create-jobs');
    expect(uniqueIds(h.klaviyo.requests[0])).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
  });

  it('sends backfill events with backfill: true so they trigger no flow', async () => {
    await submitAll(h.delivery(), [eventRecord({ backfill: true })], 'backfill');
    const entry = bulkEntries(h.klaviyo.requests[0])[0];
    expect(entry.attributes.backfill).toBe(true);
    expect(entry.attributes.events.data[0].attributes.backfill).toBe(true);
  });

  it('splits at 1,000 events a request', async () => {
    const results = await submitAll(h.delivery(), events(2300), 'backfill');
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(h.klaviyo.requests.map((r) => bulkEntries(r).length).sort()).toEqual([1000, 1000, 300].sort());
  });

  it('on 429 waits as Retry-After says, then delivers', async () => {
    h.klaviyo.next({ ...klaviyoError(429, 'throttled', 'Request was throttled.'), headers: { 'retry-after': '1' } });
    const retries: number[] = [];
    const d = h.delivery({ retry: { initialMs: 5, maxElapsedMs: 5000 }, onRetry: (_op, i) => retries.push(i.delayMs) });
    const results = await submitAll(d, events(3));
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(h.klaviyo.requests).toHaveLength(2);
    expect(retries).toEqual([1000]);
    expect(h.klaviyo.requests[1].at - h.klaviyo.requests[0].at).toBeGreaterThanOrEqual(990);
  });

  it('retries 5xx with backoff, then delivers', async () => {
    h.klaviyo.next(klaviyoError(500, 'error', 'boom'), klaviyoError(503, 'unavailable', 'later'), { status: 504 });
    const results = await submitAll(h.delivery(), events(2));
    expect(results).toEqual([BULK_DELIVERED, BULK_DELIVERED]);
    expect(h.klaviyo.requests).toHaveLength(4);
    expect(new Set(h.klaviyo.requests.map((r) => JSON.stringify(r.body))).size).toBe(1);
  });

  it('gives up on 5xx after the retry time budget: rejected with retriable: true', async () => {
    h.klaviyo.responder = () => klaviyoError(503, 'unavailable', 'down');
    const results = await submitAll(
      h.delivery({ retry: { initialMs: 5, maxDelayMs: 10, maxElapsedMs: 300 } }),
      events(2),
    );
    expect(results[0]).toEqual({
      status: 'rejected',
      error: { status: 503, code: 'unavailable', detail: 'down', pointer: null, retriable: true },
    });
    expect(h.klaviyo.requests.length).toBeGreaterThan(2);
  });

  it('a 400 naming one event by pointer rejects only that one; the rest are sent again in bulk', async () => {
    const records = events(6);
    records[3] = eventRecord({ unique_id: 'bad', properties: { poison: true } });
    const results = await submitAll(h.delivery(), records);
    expect(results[3]).toEqual({
      status: 'rejected',
      error: {
        status: 400,
        code: 'invalid',
        detail: 'poisoned event',
        pointer: '/data/attributes/events-bulk-create/data/3/attributes/events/data/0/attributes/properties/poison',
        retriable: false,
      },
    });
    expect(results.filter((r) => r.status === 'delivered')).toHaveLength(5);
    expect(h.klaviyo.requests.map((r) => r.path)).toEqual([
      '/api/event-bulk-create-jobs',
      '/api/event-bulk-create-jobs',
    ]);
    expect(uniqueIds(h.klaviyo.requests[1])).toEqual(['u0', 'u1', 'u2', 'u4', 'u5']);
  });

  it('a 400 without a pointer sends each event through Create Event, so exactly the bad ones are rejected', async () => {
    const records = events(4);
    records[1] = eventRecord({ unique_id: 'bad', properties: { poison: true } });
    h.klaviyo.next(klaviyoError(400, 'invalid', 'something in the batch is wrong'));
    const results = await submitAll(h.delivery(), records);
    expect(results.map((r) => r.status)).toEqual(['delivered', 'rejected', 'delivered', 'delivered']);
    expect(results[1]).toMatchObject({
      error: { status: 400, pointer: '/data/attributes/properties/poison', retriable: false },
    });
    const singles = h.klaviyo.requests.filter((r) => r.path === '/api/events');
    expect(singles).toHaveLength(4);
  });

  it('never sends two events with the same profile, metric and unique_id in one request', async () => {
    const records = [
      eventRecord({ unique_id: 'x', properties: { v: 1 } }),
      eventRecord({ unique_id: 'y' }),
      eventRecord({ unique_id: 'x', properties: { v: 2 } }),
      eventRecord({ unique_id: 'x', properties: { v: 1 } }), // identical to the first
    ];
    const results = await submitAll(h.delivery(), records);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['x', 'y'], ['x']]);
    expect(bulkEntries(h.klaviyo.requests[1])[0].attributes.events.data[0].attributes.properties).toEqual({ v: 2 });
  });

  it('sends a deferred copy only after the request holding the first copy has finished', async () => {
    h.klaviyo.next({ status: 202, delayMs: 300 });
    const records = [
      eventRecord({ unique_id: 'x', properties: { v: 1 } }),
      eventRecord({ unique_id: 'y' }),
      eventRecord({ unique_id: 'x', properties: { v: 2 } }),
    ];
    const results = await submitAll(h.delivery({ batch: { maxCount: 2, maxWaitMs: 0 }, bulkConcurrency: 4 }), records);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['x', 'y'], ['x']]);
    expect(h.klaviyo.requests[1].at - h.klaviyo.requests[0].at).toBeGreaterThanOrEqual(290);
  });

  it('refuses locally, without a request: no identifier once a non-E.164 phone is dropped, a string over 100 KB', async () => {
    const results = await submitAll(h.delivery(), [
      eventRecord({ profile: { phone_number: '0044 20 7946 0000' } }),
      eventRecord({ unique_id: 'big', properties: { body: 'x'.repeat(100 * 1024 + 1) } }),
      eventRecord({ unique_id: 'when', time: 'yesterday' }),
      eventRecord({
        unique_id: 'wide',
        properties: Object.fromEntries(Array.from({ length: 401 }, (_, i) => [`p${i}`, i])),
      }),
    ]);
    expect(results.map((r) => r.status === 'rejected' && r.error.code)).toEqual([
      'missing_profile_identifier',
      'string_too_large',
      'invalid_time',
      'too_many_properties',
    ]);
    expect(h.klaviyo.requests).toHaveLength(0);
  });

  it('404 (a wrong base URL) is thrown, not a record fault', async () => {
    h.klaviyo.next(klaviyoError(404, 'not_found', 'no such endpoint'));
    const err = await submitAll(h.delivery(), events(1)).catch((e) => e);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err).toMatchObject({ status: 404, retriable: false });
  });

  it('sends a lone event after maxWaitMs, and shares requests between callers', async () => {
    const d = h.delivery({ batch: { maxWaitMs: 50 } });
    const started = Date.now();
    const results = await Promise.all([
      d.events.submit(eventRecord({ unique_id: 'a' })),
      d.events.submit(eventRecord({ unique_id: 'b' })),
    ]);
    expect(results).toEqual([BULK_DELIVERED, BULK_DELIVERED]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['a', 'b']]);
  });

  it('with a paced budget (the sink) a partial batch waits for company only until submissions pause, not maxWaitMs', async () => {
    const budget = new RateBudget();
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    const d = h.delivery({ budget, batch: { maxWaitMs: 2000 } });
    const started = Date.now();
    const first = [0, 1, 2].map((i) => d.events.submit(eventRecord({ unique_id: `p0-${i}` })));
    await new Promise((r) => setTimeout(r, 5)); // another partition of the same fetch, a few ms later
    const second = [0, 1].map((i) => d.events.submit(eventRecord({ unique_id: `p1-${i}` })));
    const results = await Promise.all([...first, ...second]);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['p0-0', 'p0-1', 'p0-2', 'p1-0', 'p1-1']]);
  });

  it('keeps filling a request while it waits for its rate grant (no budget spent on small requests)', async () => {
    const budget = new RateBudget({ limits: { 'events-bulk': { burst: 1, steady: 100 } } });
    const d = h.delivery({ budget, batch: { maxWaitMs: 20 } });
    const first = d.events.submit(eventRecord({ unique_id: 'first' }));
    await first; // takes the one grant of this second
    const later: Promise<unknown>[] = [];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 5; i++) later.push(d.events.submit(eventRecord({ unique_id: `r${round}-${i}` })));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(later);
    // one request for the first event, then ONE request holding the 40 that arrived while waiting
    expect(h.klaviyo.requests.map((r) => uniqueIds(r).length)).toEqual([1, 40]);
  });

  it('shares the budget: a 429 pauses the endpoint group for Retry-After (up to maxDelayMs)', async () => {
    const budget = new RateBudget();
    h.klaviyo.next({ ...klaviyoError(429, 'throttled', 'slow down'), headers: { 'retry-after': '1' } });
    const d = h.delivery({ budget, retry: { initialMs: 5, maxDelayMs: 5000, maxElapsedMs: 10_000 } });
    const first = submitAll(d, events(1));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await budget.acquire('events-bulk', 'live'); // another caller must also wait out the pause
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    await first;
  });

  it('a request waiting to retry does not hold back other events (issue #14: one backoff stalled every partition)', async () => {
    let stuck = true;
    h.klaviyo.responder = (req) =>
      stuck && req.path === '/api/event-bulk-create-jobs' && uniqueIds(req).includes('slow')
        ? klaviyoError(500, 'error', 'boom')
        : defaultResponder(req);
    const d = h.delivery({
      bulkConcurrency: 1,
      retry: { initialMs: 1500, maxDelayMs: 1500, jitter: 'none', maxElapsedMs: 60_000 },
    });
    const slow = d.events.submit(eventRecord({ unique_id: 'slow' }));
    await new Promise((r) => setTimeout(r, 100)); // its first attempt failed; it waits 1.5 s
    const t0 = Date.now();
    expect(await d.events.submit(eventRecord({ unique_id: 'other', profile: { email: 'other@example.com' } }))).toEqual(
      BULK_DELIVERED,
    );
    expect(Date.now() - t0).toBeLessThan(1000);
    stuck = false;
    expect(await slow).toEqual(BULK_DELIVERED);
  });

  describe('a submitter that gives up (issue #11: its Kafka batch was revoked in a rebalance)', () => {
    /** One grant a second: after the first request, everything else queues for the next grant. */
    const oneASecond = () => new RateBudget({ limits: { 'events-bulk': { burst: 1, steady: 100 } } });
    const gaveUp = new Error('partition revoked');

    it('withdraws its queued events: never sent, rejected with the reason; the others still go, in full requests', async () => {
      const d = h.delivery({ budget: oneASecond(), batch: { maxCount: 2, maxWaitMs: 0 } });
      await d.events.submit(eventRecord({ unique_id: 'first' })); // takes this second's grant
      const revoked = new AbortController();
      const withdrawn = ['a1', 'a2', 'a3'].map((u) =>
        d.events.submit(eventRecord({ unique_id: u }), 'live', revoked.signal),
      );
      const kept = submitAll(
        d,
        ['b1', 'b2', 'b3'].map((u) => eventRecord({ unique_id: u })),
      );
      revoked.abort(gaveUp);
      for (const p of withdrawn) await expect(p).rejects.toBe(gaveUp);
      expect(await kept).toEqual([BULK_DELIVERED, BULK_DELIVERED, BULK_DELIVERED]);
      // without the withdrawal: [a1 a2] [a3 b1] [b2 b3], three grants and three copies the next owner re-sends
      expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['first'], ['b1', 'b2'], ['b3']]);
    });

    it('a copy deferred behind a withdrawn one goes in its place', async () => {
      const d = h.delivery({ budget: oneASecond() });
      await d.events.submit(eventRecord({ unique_id: 'first' }));
      const revoked = new AbortController();
      const old = d.events.submit(eventRecord({ unique_id: 'x', properties: { v: 1 } }), 'live', revoked.signal);
      const newer = d.events.submit(eventRecord({ unique_id: 'x', properties: { v: 2 } }));
      revoked.abort(gaveUp);
      await expect(old).rejects.toBe(gaveUp);
      expect(await newer).toEqual(BULK_DELIVERED);
      expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['first'], ['x']]);
      expect(bulkEntries(h.klaviyo.requests[1])[0].attributes.events.data[0].attributes.properties).toEqual({ v: 2 });
    });

    it('an event already in a request on the wire still goes and gets its result', async () => {
      h.klaviyo.next({ status: 202, delayMs: 300 });
      const revoked = new AbortController();
      const d = h.delivery();
      const sent = d.events.submit(eventRecord({ unique_id: 'on-the-wire' }), 'live', revoked.signal);
      await new Promise((r) => setTimeout(r, 100));
      revoked.abort(gaveUp);
      expect(await sent).toEqual(BULK_DELIVERED);
      expect(h.klaviyo.requests.map(uniqueIds)).toEqual([['on-the-wire']]);
    });

    it('a submit with a signal that has already fired sends nothing', async () => {
      const revoked = new AbortController();
      revoked.abort(gaveUp);
      await expect(h.delivery().events.submit(eventRecord(), 'live', revoked.signal)).rejects.toBe(gaveUp);
      await new Promise((r) => setTimeout(r, 50));
      expect(h.klaviyo.requests).toHaveLength(0);
    });
  });
});
