import { Logger } from '@nestjs/common';
import type { KlaviyoDeletionRecord } from '@iks/domain';
import { KlaviyoApiError } from './klaviyo-api.error';
import { KlaviyoDeliverer, type KlaviyoDelivererOptions } from './klaviyo-deliverer';
import { KlaviyoHttpClient } from './klaviyo-http.client';
import { RateBudget } from './rate-budget';
import { eventRecord, profileRecord } from './__tests__/fixtures';
import { klaviyoError, KlaviyoTestDouble, type RecordedRequest } from './__tests__/klaviyo-test-double';

const KEY = 'pk_deliverer_secret';
const bulkEntries = (r: RecordedRequest) => r.body.data.attributes['events-bulk-create'].data as any[];
const uniqueIds = (r: RecordedRequest) => bulkEntries(r).map((e) => e.attributes.events.data[0].attributes.unique_id);
const events = (n: number, from = 0) => Array.from({ length: n }, (_, i) => eventRecord({ unique_id: `u${from + i}` }));

describe('KlaviyoDeliverer', () => {
  beforeAll(() => Logger.overrideLogger(false));

  let klaviyo: KlaviyoTestDouble;
  let baseUrl: string;

  beforeEach(async () => {
    klaviyo = new KlaviyoTestDouble();
    baseUrl = await klaviyo.start();
  });
  afterEach(() => klaviyo.stop());

  function deliverer(opts: Partial<KlaviyoDelivererOptions> = {}) {
    return new KlaviyoDeliverer({
      client: new KlaviyoHttpClient({ apiKey: KEY, baseUrl, timeoutMs: 2000 }),
      retry: { initialMs: 5, maxMs: 20, maxElapsedMs: 5000 },
      ...opts,
    });
  }

  afterEach(() => {
    // every request the deliverer made was valid against contracts/klaviyo
    for (const r of klaviyo.requests) expect({ path: r.path, errors: r.contractErrors }).toEqual({ path: r.path, errors: [] });
  });

  it('delivers events in one contract-valid bulk request, one result per record', async () => {
    const records = events(5);
    const results = await deliverer().deliverEvents(records, 'live');
    expect(results).toEqual(records.map(() => ({ status: 'delivered' })));
    expect(klaviyo.requests).toHaveLength(1);
    expect(klaviyo.requests[0].path).toBe('/api/event-bulk-create-jobs');
    expect(uniqueIds(klaviyo.requests[0])).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
  });

  it('sends backfill events with backfill: true so they trigger no flow', async () => {
    await deliverer().deliverEvents([eventRecord({ backfill: true })], 'backfill');
    const entry = bulkEntries(klaviyo.requests[0])[0];
    expect(entry.attributes.backfill).toBe(true);
    expect(entry.attributes.events.data[0].attributes.backfill).toBe(true);
  });

  it('splits at 1,000 events a request', async () => {
    const results = await deliverer().deliverEvents(events(2300), 'backfill');
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(klaviyo.requests.map((r) => bulkEntries(r).length).sort()).toEqual([1000, 1000, 300].sort());
  });

  it('on 429 waits as Retry-After says, then delivers', async () => {
    klaviyo.next({ ...klaviyoError(429, 'throttled', 'Request was throttled.'), headers: { 'retry-after': '1' } });
    const retries: number[] = [];
    const results = await deliverer({ onRetry: (_op, i) => retries.push(i.delayMs) }).deliverEvents(events(3));
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(klaviyo.requests).toHaveLength(2);
    expect(retries).toEqual([1000]);
    expect(klaviyo.requests[1].at - klaviyo.requests[0].at).toBeGreaterThanOrEqual(990);
  });

  it('retries 5xx with backoff, then delivers', async () => {
    klaviyo.next(klaviyoError(500, 'error', 'boom'), klaviyoError(503, 'unavailable', 'later'), { status: 504 });
    const results = await deliverer().deliverEvents(events(2));
    expect(results).toEqual([{ status: 'delivered' }, { status: 'delivered' }]);
    expect(klaviyo.requests).toHaveLength(4);
    expect(new Set(klaviyo.requests.map((r) => JSON.stringify(r.body))).size).toBe(1);
  });

  it('gives up on 5xx after the retry time budget: rejected with retriable: true', async () => {
    klaviyo.responder = () => klaviyoError(503, 'unavailable', 'down');
    const results = await deliverer({ retry: { initialMs: 5, maxMs: 10, maxElapsedMs: 100 } }).deliverEvents(events(2));
    expect(results[0]).toEqual({ status: 'rejected', error: { status: 503, code: 'unavailable', detail: 'down', pointer: null, retriable: true } });
    expect(klaviyo.requests.length).toBeGreaterThan(2);
  });

  it('a 400 naming one event by pointer rejects only that one; the rest are sent again in bulk', async () => {
    const records = events(6);
    records[3] = eventRecord({ unique_id: 'bad', properties: { poison: true } });
    const results = await deliverer().deliverEvents(records);
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
    expect(klaviyo.requests.map((r) => r.path)).toEqual(['/api/event-bulk-create-jobs', '/api/event-bulk-create-jobs']);
    expect(uniqueIds(klaviyo.requests[1])).toEqual(['u0', 'u1', 'u2', 'u4', 'u5']);
  });

  it('a 400 without a pointer sends each event through Create Event, so exactly the bad ones are rejected', async () => {
    const records = events(4);
    records[1] = eventRecord({ unique_id: 'bad', properties: { poison: true } });
    klaviyo.next(klaviyoError(400, 'invalid', 'something in the batch is wrong'));
    const results = await deliverer().deliverEvents(records);
    expect(results.map((r) => r.status)).toEqual(['delivered', 'rejected', 'delivered', 'delivered']);
    expect(results[1]).toMatchObject({ error: { status: 400, pointer: '/data/attributes/properties/poison', retriable: false } });
    const singles = klaviyo.requests.filter((r) => r.path === '/api/events');
    expect(singles).toHaveLength(4);
  });

  it('never sends two events with the same profile, metric and unique_id in one request', async () => {
    const records = [
      eventRecord({ unique_id: 'x', properties: { v: 1 } }),
      eventRecord({ unique_id: 'y' }),
      eventRecord({ unique_id: 'x', properties: { v: 2 } }),
      eventRecord({ unique_id: 'x', properties: { v: 1 } }), // identical to the first
    ];
    const results = await deliverer().deliverEvents(records);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(klaviyo.requests.map(uniqueIds)).toEqual([['x', 'y'], ['x']]);
    expect(bulkEntries(klaviyo.requests[1])[0].attributes.events.data[0].attributes.properties).toEqual({ v: 2 });
  });

  it('sends a deferred copy only after the request holding the first copy has finished', async () => {
    klaviyo.next({ status: 202, delayMs: 300 });
    const records = [eventRecord({ unique_id: 'x', properties: { v: 1 } }), eventRecord({ unique_id: 'y' }), eventRecord({ unique_id: 'x', properties: { v: 2 } })];
    const results = await deliverer({ batch: { maxCount: 2 }, bulkConcurrency: 4 }).deliverEvents(records);
    expect(results.every((r) => r.status === 'delivered')).toBe(true);
    expect(klaviyo.requests.map(uniqueIds)).toEqual([['x', 'y'], ['x']]);
    expect(klaviyo.requests[1].at - klaviyo.requests[0].at).toBeGreaterThanOrEqual(290);
  });

  it('refuses locally, without a request: no identifier once a non-E.164 phone is dropped, a string over 100 KB', async () => {
    const results = await deliverer().deliverEvents([
      eventRecord({ profile: { phone_number: '0044 20 7946 0000' } }),
      eventRecord({ unique_id: 'big', properties: { body: 'x'.repeat(100 * 1024 + 1) } }),
      eventRecord({ unique_id: 'when', time: 'yesterday' }),
      eventRecord({ unique_id: 'wide', properties: Object.fromEntries(Array.from({ length: 401 }, (_, i) => [`p${i}`, i])) }),
    ]);
    expect(results.map((r) => r.status === 'rejected' && r.error.code)).toEqual([
      'missing_profile_identifier',
      'string_too_large',
      'invalid_time',
      'too_many_properties',
    ]);
    expect(klaviyo.requests).toHaveLength(0);
  });

  it('401 is thrown (not a record fault), and the key is not in the error', async () => {
    klaviyo.next(klaviyoError(401, 'not_authenticated', 'Missing or invalid private key.'));
    const err = await deliverer().deliverEvents(events(1)).catch((e) => e);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err).toMatchObject({ status: 401, retriable: false });
    expect(String(err.message)).not.toContain(KEY);
  });

  it('submitEvent sends a lone event after maxWaitMs, and shares requests between callers', async () => {
    const d = deliverer({ batch: { maxWaitMs: 50 } });
    const started = Date.now();
    const results = await Promise.all([d.submitEvent(eventRecord({ unique_id: 'a' })), d.submitEvent(eventRecord({ unique_id: 'b' }))]);
    expect(results).toEqual([{ status: 'delivered' }, { status: 'delivered' }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(klaviyo.requests.map(uniqueIds)).toEqual([['a', 'b']]);
  });

  it('submitEvent keeps filling a request while it waits for its rate grant (no budget spent on small requests)', async () => {
    const budget = new RateBudget({ limits: { 'events-bulk': { burst: 1, steady: 100 } } });
    const d = deliverer({ budget, batch: { maxWaitMs: 20 } });
    const first = d.submitEvent(eventRecord({ unique_id: 'first' }));
    await first; // takes the one grant of this second
    const later: Promise<unknown>[] = [];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 5; i++) later.push(d.submitEvent(eventRecord({ unique_id: `r${round}-${i}` })));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(later);
    // one request for the first event, then ONE request holding the 40 that arrived while waiting
    expect(klaviyo.requests.map((r) => uniqueIds(r).length)).toEqual([1, 40]);
  });

  it('shares the budget: a 429 pauses the endpoint group for Retry-After', async () => {
    const budget = new RateBudget();
    klaviyo.next({ ...klaviyoError(429, 'throttled', 'slow down'), headers: { 'retry-after': '1' } });
    const d = deliverer({ budget });
    const first = d.deliverEvents(events(1));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await budget.acquire('events-bulk', 'live'); // another caller must also wait out the pause
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    await first;
  });

  describe('profiles', () => {
    it('upserts via profile-import; a non-E.164 phone is dropped; no identifier is rejected without a request', async () => {
      const results = await deliverer().deliverProfiles([
        profileRecord(),
        profileRecord({ intercom_contact_id: 'c-2', email: 'b@example.com', phone_number: '555 0100' }),
        profileRecord({ intercom_contact_id: 'c-3', email: undefined, phone_number: '555 0100' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'rejected']);
      expect(results[2]).toMatchObject({ error: { code: 'missing_profile_identifier', status: null, retriable: false } });
      expect(klaviyo.requests).toHaveLength(2);
      expect(klaviyo.requests.every((r) => r.path === '/api/profile-import')).toBe(true);
      const second = klaviyo.requests.find((r) => r.body.data.attributes.email === 'b@example.com')!;
      expect(second.body.data.attributes.phone_number).toBeUndefined();
    });

    it('keeps the order of upserts for one contact', async () => {
      const recs = [1, 2, 3].map((n) => profileRecord({ first_name: `v${n}`, updated_at: n }));
      await deliverer().deliverProfiles(recs);
      expect(klaviyo.requests.map((r) => r.body.data.attributes.first_name)).toEqual(['v1', 'v2', 'v3']);
    });

    it('a 400 rejects that profile only; a 5xx is retried', async () => {
      klaviyo.next(klaviyoError(400, 'invalid', 'Invalid email', '/data/attributes/email'), klaviyoError(502, 'bad_gateway', 'x'));
      const results = await deliverer({ singleConcurrency: 1 }).deliverProfiles([
        profileRecord({ intercom_contact_id: 'a', email: 'not-an-email' }),
        profileRecord({ intercom_contact_id: 'b', email: 'b@example.com' }),
      ]);
      expect(results[0]).toEqual({
        status: 'rejected',
        error: { status: 400, code: 'invalid', detail: 'Invalid email', pointer: '/data/attributes/email', retriable: false },
      });
      expect(results[1]).toEqual({ status: 'delivered' });
      expect(klaviyo.requests).toHaveLength(3);
    });
  });

  describe('profiles in bulk (Bulk Import Profiles jobs)', () => {
    const bulkOpts = { profileBulk: { threshold: 3, pollInitialMs: 10, pollMaxMs: 20 } };

    it('imports in one job, polls it, and delivers every profile', async () => {
      const recs = [1, 2, 3, 4].map((n) => profileRecord({ intercom_contact_id: `c${n}`, email: `p${n}@example.com` }));
      const results = await deliverer(bulkOpts).deliverProfiles(recs, 'backfill');
      expect(results).toEqual(recs.map(() => ({ status: 'delivered' })));
      expect(klaviyo.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'POST /api/profile-bulk-import-jobs',
        'GET /api/profile-bulk-import-jobs/job-1',
        'GET /api/profile-bulk-import-jobs/job-1',
      ]);
    });

    it('sends the profiles an import error names through profile-import, for an exact per-record answer', async () => {
      const recs = [1, 2, 3, 4, 5].map((n) => profileRecord({ intercom_contact_id: `c${n}`, phone_number: undefined, email: n % 2 ? `p${n}@example.com` : `invalid-${n}@example.com` }));
      const results = await deliverer(bulkOpts).deliverProfiles(recs, 'backfill');
      expect(results.map((r) => r.status)).toEqual(['delivered', 'rejected', 'delivered', 'rejected', 'delivered']);
      expect(results[1]).toMatchObject({ error: { status: 400, code: 'invalid', pointer: '/data/attributes/email', retriable: false } });
      // import errors read across pages; only the two named profiles were sent again
      expect(klaviyo.requests.filter((r) => r.path.endsWith('/import-errors'))).toHaveLength(1);
      expect(klaviyo.requests.filter((r) => r.path === '/api/profile-import').map((r) => r.body.data.attributes.email)).toEqual([
        'invalid-2@example.com',
        'invalid-4@example.com',
      ]);
    });

    it('follows links.next through import errors, and keeps one contact\'s upserts in successive jobs', async () => {
      klaviyo.importErrorsPageSize = 1;
      const recs = [
        profileRecord({ intercom_contact_id: 'a', email: 'invalid-a@example.com', first_name: 'v1' }),
        profileRecord({ intercom_contact_id: 'b', email: 'invalid-b@example.com' }),
        profileRecord({ intercom_contact_id: 'a', email: 'a@example.com', first_name: 'v2' }),
      ];
      const results = await deliverer(bulkOpts).deliverProfiles(recs, 'backfill');
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'delivered']);
      expect(klaviyo.requests.filter((r) => r.path.endsWith('/import-errors'))).toHaveLength(2);
      const jobs = klaviyo.requests.filter((r) => r.method === 'POST' && r.path === '/api/profile-bulk-import-jobs');
      expect(jobs.map((j) => j.body.data.attributes.profiles.data.map((p: any) => p.attributes.email))).toEqual([
        ['invalid-a@example.com', 'invalid-b@example.com'],
        ['a@example.com'],
      ]);
    });
  });

  describe('deletions', () => {
    const del = (over: Partial<KlaviyoDeletionRecord>): KlaviyoDeletionRecord => ({
      kind: 'deletion', intercom_contact_id: 'c-1', requested_at: 1, source_notification_id: 'n', ...over,
    });

    it('requests a deletion by one identifier (email, else an E.164 phone)', async () => {
      const results = await deliverer().deliverDeletions([
        del({ email: 'ada@example.com', phone_number: '+14155550123' }),
        del({ phone_number: '+14155550123' }),
        del({ phone_number: 'n/a' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'rejected']);
      expect(klaviyo.requests.map((r) => r.body.data.attributes.profile.data.attributes)).toEqual([
        { email: 'ada@example.com' },
        { phone_number: '+14155550123' },
      ]);
    });
  });
});
