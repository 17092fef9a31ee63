import { klaviyoContract, OpenApiValidator } from '@iks/contracts';
import { KLAVIYO_REVISION } from '@iks/domain';
import { startKlaviyoEmulator, type KlaviyoEmulator, type KlaviyoEmulatorOptions } from './klaviyo-emulator.server';

const KEY = 'pk_test_emulator';
const BULK = '/api/event-bulk-create-jobs';
/** A fixed-window-aligned instant (a whole minute) so window arithmetic in tests is exact. */
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);

interface Res {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  body: any;
}

function apiHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    Authorization: `Klaviyo-API-Key ${KEY}`,
    revision: KLAVIYO_REVISION,
    'Content-Type': 'application/vnd.api+json',
    Accept: 'application/vnd.api+json',
    ...extra,
  };
}

async function call(
  em: KlaviyoEmulator,
  method: string,
  path: string,
  body?: unknown,
  headers = apiHeaders(),
): Promise<Res> {
  const r = await fetch(em.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

interface TestEvent {
  email?: string;
  phone_number?: string;
  external_id?: string;
  metric?: string;
  unique_id?: string;
  properties?: Record<string, unknown>;
  time?: string;
  backfill?: boolean;
}

function identifiers(e: TestEvent) {
  return {
    ...(e.email ? { email: e.email } : {}),
    ...(e.phone_number ? { phone_number: e.phone_number } : {}),
    ...(e.external_id ? { external_id: e.external_id } : {}),
  };
}

/** One bulk entry per event, as the sink sends them (contracts/klaviyo/bulk_create_events.json). */
function bulkBody(events: TestEvent[]) {
  return {
    data: {
      type: 'event-bulk-create-job',
      attributes: {
        'events-bulk-create': {
          data: events.map((e) => ({
            type: 'event-bulk-create',
            attributes: {
              profile: { data: { type: 'profile', attributes: identifiers(e) } },
              events: {
                data: [
                  {
                    type: 'event',
                    attributes: {
                      properties: e.properties ?? { conversation_id: '1' },
                      metric: {
                        data: { type: 'metric', attributes: { name: e.metric ?? 'Intercom Conversation Closed' } },
                      },
                      ...(e.unique_id ? { unique_id: e.unique_id } : {}),
                      ...(e.time ? { time: e.time } : {}),
                      ...(e.backfill !== undefined ? { backfill: e.backfill } : {}),
                    },
                  },
                ],
              },
            },
          })),
        },
      },
    },
  };
}

function eventBody(e: TestEvent) {
  return {
    data: {
      type: 'event',
      attributes: {
        properties: e.properties ?? {},
        metric: { data: { type: 'metric', attributes: { name: e.metric ?? 'Intercom Reply' } } },
        profile: { data: { type: 'profile', attributes: identifiers(e) } },
        ...(e.unique_id ? { unique_id: e.unique_id } : {}),
      },
    },
  };
}

function profileBody(attributes: Record<string, unknown>) {
  return { data: { type: 'profile', attributes } };
}

/**
 * The contracts declare error responses as `4XX` / `5XX` → `$ref: #/components/responses/ClientError`
 * (ServerError), which validateResponseBody does not follow; validate against those schemas directly.
 */
const errorValidators = new Map<string, OpenApiValidator>();
function errorValidator(operation: string): OpenApiValidator {
  let v = errorValidators.get(operation);
  if (!v) {
    const doc = structuredClone(klaviyoContract(operation).document);
    for (const name of ['ClientError', 'ServerError'])
      doc.components.schemas[name] = doc.components.responses[name].content['application/vnd.api+json'].schema;
    v = new OpenApiValidator(doc, `${operation}-errors`);
    errorValidators.set(operation, v);
  }
  return v;
}

function expectErrorBody(operation: string, range: '4XX' | '5XX', res: Res): void {
  const result = errorValidator(operation).validateComponent(range === '4XX' ? 'ClientError' : 'ServerError', res.body);
  expect(result.errors).toEqual([]);
  for (const e of res.body.errors)
    expect(e).toEqual(
      expect.objectContaining({
        id: expect.any(String),
        status: res.status,
        code: expect.any(String),
        title: expect.any(String),
        detail: expect.any(String),
      }),
    );
}

describe('Klaviyo emulator', () => {
  let em: KlaviyoEmulator;
  let clock = T0;
  const start = async (options: KlaviyoEmulatorOptions = {}) => {
    clock = T0;
    em = await startKlaviyoEmulator({ now: () => clock, ...options });
    return em;
  };
  afterEach(async () => {
    await em?.close();
  });

  describe('POST /api/event-bulk-create-jobs', () => {
    it('accepts a valid bulk request with 202 and stores every event, readable in-process and over HTTP', async () => {
      await start();
      const res = await call(
        em,
        'POST',
        BULK,
        bulkBody([
          {
            email: 'ada@example.com',
            unique_id: 'c1:closed',
            properties: { conversation_id: 'c1' },
            time: '2026-11-20T10:00:00.789Z',
            backfill: true,
          },
          { email: 'bob@example.com', unique_id: 'c2:closed', metric: 'Intercom Conversation Opened' },
        ]),
      );
      expect(res.status).toBe(202);
      expect(res.body).toBeUndefined();
      // "All non-rate-limited (i.e., non 429) responses will contain" the steady-window headers.
      expect(res.headers.get('ratelimit-limit')).toBe('150');
      expect(res.headers.get('ratelimit-remaining')).toBe('149');
      expect(res.headers.get('ratelimit-reset')).toBe('60');

      expect(em.store.events).toHaveLength(2);
      const [first] = em.store.events;
      expect(first).toEqual(
        expect.objectContaining({
          metric: 'Intercom Conversation Closed',
          unique_id: 'c1:closed',
          time: '2026-11-20T10:00:00.000Z', // "The time is truncated to the second."
          backfill: true,
          via: 'bulk_create_events',
          properties: { conversation_id: 'c1' },
        }),
      );
      expect(first.profile.email).toBe('ada@example.com');
      expect(em.store.metric('Intercom Conversation Closed')?.count).toBe(1);
      expect(
        em.store
          .profiles()
          .map((p) => p.email)
          .sort(),
      ).toEqual(['ada@example.com', 'bob@example.com']);

      const viaHttp = await call(em, 'GET', '/__emulator/events?metric=Intercom%20Conversation%20Opened');
      expect(viaHttp.body.total).toBe(1);
      expect(viaHttp.body.data[0].unique_id).toBe('c2:closed');
      const metrics = await call(em, 'GET', '/__emulator/metrics');
      expect(metrics.body.data.map((m: { name: string; count: number }) => [m.name, m.count]).sort()).toEqual([
        ['Intercom Conversation Closed', 1],
        ['Intercom Conversation Opened', 1],
      ]);
    });

    it('rejects a body that breaks the contract with 400 in Klaviyo error format, naming the pointer', async () => {
      await start();
      const body = bulkBody([{ email: 'ada@example.com', unique_id: 'u1' }]);
      delete (
        body.data.attributes['events-bulk-create'].data[0].attributes.events.data[0].attributes as { metric?: unknown }
      ).metric;
      const res = await call(em, 'POST', BULK, body);
      expect(res.status).toBe(400);
      expectErrorBody('bulk_create_events', '4XX', res);
      expect(res.body.errors[0]).toEqual(
        expect.objectContaining({
          code: 'invalid',
          source: { pointer: '/data/attributes/events-bulk-create/data/0/attributes/events/data/0/attributes/metric' },
        }),
      );
      expect(em.store.events).toHaveLength(0);

      const malformed = await fetch(em.url + BULK, { method: 'POST', headers: apiHeaders(), body: '{not json' });
      expect(malformed.status).toBe(400);
    });

    it('rejects a profile without any identifier, an event time before 1990, and over 1,000 events', async () => {
      await start();
      const noId = await call(em, 'POST', BULK, bulkBody([{ unique_id: 'u1' }]));
      expect(noId.status).toBe(400);
      expect(noId.body.errors[0].source.pointer).toBe(
        '/data/attributes/events-bulk-create/data/0/attributes/profile/data/attributes',
      );
      const old = await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', time: '1980-01-01T00:00:00Z' }]));
      expect(old.status).toBe(400);
      expect(old.body.errors[0].source.pointer).toMatch(/\/attributes\/time$/);
      const tooMany = await call(
        em,
        'POST',
        BULK,
        bulkBody(Array.from({ length: 1001 }, (_, i) => ({ email: `p${i}@example.com`, unique_id: `u${i}` }))),
      );
      expect(tooMany.status).toBe(400);
      expect(em.store.events).toHaveLength(0);
    });

    it('answers 401 without "Authorization: Klaviyo-API-Key", and 400 without a revision header', async () => {
      await start({ apiKeys: [KEY] });
      const body = bulkBody([{ email: 'a@example.com', unique_id: 'u1' }]);
      const { Authorization: _auth, ...noAuth } = apiHeaders();
      const missing = await call(em, 'POST', BULK, body, noAuth);
      expect(missing.status).toBe(401);
      expectErrorBody('bulk_create_events', '4XX', missing);
      expect((await call(em, 'POST', BULK, body, apiHeaders({ Authorization: `Bearer ${KEY}` }))).status).toBe(401);
      expect(
        (await call(em, 'POST', BULK, body, apiHeaders({ Authorization: 'Klaviyo-API-Key pk_other' }))).status,
      ).toBe(401);

      const { revision: _rev, ...noRevision } = apiHeaders();
      const res = await call(em, 'POST', BULK, body, noRevision);
      expect(res.status).toBe(400);
      expectErrorBody('bulk_create_events', '4XX', res);
      expect(res.body.errors[0].source).toEqual({ parameter: 'revision' });
      expect(em.store.events).toHaveLength(0);
    });

    it('keeps only the first event per (profile, metric, unique_id) across requests, and still answers 202', async () => {
      await start();
      expect(
        (await call(em, 'POST', BULK, bulkBody([{ email: 'ada@example.com', unique_id: 'dup', properties: { n: 1 } }])))
          .status,
      ).toBe(202);
      expect(
        (await call(em, 'POST', BULK, bulkBody([{ email: 'ADA@example.com', unique_id: 'dup', properties: { n: 2 } }])))
          .status,
      ).toBe(202);
      // The same unique_id under another metric or another profile is a different event.
      expect(
        (
          await call(
            em,
            'POST',
            BULK,
            bulkBody([
              { email: 'ada@example.com', unique_id: 'dup', metric: 'Other' },
              { email: 'bob@example.com', unique_id: 'dup' },
            ]),
          )
        ).status,
      ).toBe(202);
      // create_event shares the same dedupe: "only the first processed event will be recorded".
      expect(
        (
          await call(
            em,
            'POST',
            '/api/events',
            eventBody({ email: 'ada@example.com', metric: 'Intercom Conversation Closed', unique_id: 'dup' }),
          )
        ).status,
      ).toBe(202);
      expect(em.store.events.map((e) => [e.profile.email, e.metric, e.properties])).toEqual([
        ['ada@example.com', 'Intercom Conversation Closed', { n: 1 }],
        ['ada@example.com', 'Other', { conversation_id: '1' }],
        ['bob@example.com', 'Intercom Conversation Closed', { conversation_id: '1' }],
      ]);
      expect(em.store.duplicateEventsIgnored).toBe(2);
      expect(em.store.metric('Intercom Conversation Closed')?.count).toBe(2);
    });

    it('fails the whole request (400, nothing stored) when one request repeats a unique_id for the same profile and metric', async () => {
      await start();
      const res = await call(
        em,
        'POST',
        BULK,
        bulkBody([
          { email: 'ada@example.com', unique_id: 'x' },
          { email: 'bob@example.com', unique_id: 'y' },
          { email: 'ada@example.com', unique_id: 'x' },
        ]),
      );
      expect(res.status).toBe(400);
      expectErrorBody('bulk_create_events', '4XX', res);
      expect(res.body.errors[0].source.pointer).toBe(
        '/data/attributes/events-bulk-create/data/2/attributes/events/data/0/attributes/unique_id',
      );
      expect(em.store.events).toHaveLength(0);
      expect(em.store.profiles()).toHaveLength(0);
    });
  });

  describe('rate limits (fixed 1 s burst and 1 min steady windows per API key)', () => {
    it('answers the 11th bulk request in one second with 429 and Retry-After, stores nothing from it, and admits again next second', async () => {
      await start();
      for (let i = 0; i < 10; i++) {
        expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: `u${i}` }]))).status).toBe(
          202,
        );
      }
      clock += 999;
      const res = await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'u10' }]));
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      // Klaviyo: on a 429 the RateLimit-* headers "are replaced with a Retry-After header".
      expect(res.headers.get('ratelimit-remaining')).toBeNull();
      expectErrorBody('bulk_create_events', '4XX', res);
      expect(res.body.errors[0].code).toBe('throttled');
      expect(em.store.events).toHaveLength(10);
      expect(em.store.throttled).toBe(1);

      // Another account (API key) has its own quota.
      expect(
        (
          await call(
            em,
            'POST',
            BULK,
            bulkBody([{ email: 'a@example.com', unique_id: 'other' }]),
            apiHeaders({ Authorization: 'Klaviyo-API-Key pk_other' }),
          )
        ).status,
      ).toBe(202);
      // Another endpoint has its own quota.
      expect(
        (await call(em, 'POST', '/api/events', eventBody({ email: 'a@example.com', unique_id: 'single' }))).status,
      ).toBe(202);

      clock += 1;
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'u10' }]))).status).toBe(202);
      const stats = (await call(em, 'GET', '/__emulator/stats')).body;
      expect(stats.throttled).toBe(1);
      expect(stats.windows.seen.bulk_create_events.perSecond).toBe(12);
      expect(stats.windows.admitted.bulk_create_events.perSecond).toBe(11);
    });

    it('enforces the 150/min steady window, with Retry-After counting to the end of the minute', async () => {
      await start();
      for (let s = 0; s < 15; s++) {
        clock = T0 + s * 1000;
        for (let i = 0; i < 10; i++)
          expect(
            (await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: `${s}-${i}` }]))).status,
          ).toBe(202);
      }
      clock = T0 + 20_000;
      const res = await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'late' }]));
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('40');
      clock = T0 + 60_000;
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'late' }]))).status).toBe(
        202,
      );
      expect(em.store.events).toHaveLength(151);
      expect(em.store.windowPeaks()).toEqual({
        seen: { bulk_create_events: { perSecond: 10, perMinute: 151 } },
        admitted: { bulk_create_events: { perSecond: 10, perMinute: 150 } },
      });
    });

    it('uses the documented limit of request_profile_deletion (3/s) and honours limitOverrides', async () => {
      await start({ limitOverrides: { create_event: { burst: 2 } } });
      const del = {
        data: {
          type: 'data-privacy-deletion-job',
          attributes: { profile: { data: { type: 'profile', attributes: { email: 'x@example.com' } } } },
        },
      };
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await call(em, 'POST', '/api/data-privacy-deletion-jobs', del)).status);
      expect(statuses).toEqual([202, 202, 202, 429]);
      const ev = [];
      for (let i = 0; i < 3; i++)
        ev.push(
          (await call(em, 'POST', '/api/events', eventBody({ email: 'a@example.com', unique_id: `e${i}` }))).status,
        );
      expect(ev).toEqual([202, 202, 429]);
    });

    it('admits everything with limits off', async () => {
      await start({ limits: false });
      const statuses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: `u${i}` }])).then((r) => r.status),
        ),
      );
      expect(statuses.every((s) => s === 202)).toBe(true);
      expect(em.store.events).toHaveLength(40);
      expect(em.store.throttled).toBe(0);
    });
  });

  describe('profiles', () => {
    it('creates (201) then updates (200) the same profile, merged by email / external_id, per the contract', async () => {
      await start();
      const created = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'ada@example.com', first_name: 'Ada', properties: { plan: 'pro', seats: 3 } }),
      );
      expect(created.status).toBe(201);
      expect(
        klaviyoContract('create_or_update_profile').validateResponseBody(
          'post',
          '/api/profile-import',
          201,
          created.body,
        ).errors,
      ).toEqual([]);
      const id = created.body.data.id;

      const updated = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'ada@example.com', external_id: 'ic-42', properties: { seats: 5 }, first_name: null }),
      );
      expect(updated.status).toBe(200);
      expect(
        klaviyoContract('create_or_update_profile').validateResponseBody(
          'post',
          '/api/profile-import',
          200,
          updated.body,
        ).errors,
      ).toEqual([]);
      expect(updated.body.data.id).toBe(id);
      expect(updated.body.data.attributes).toEqual(
        expect.objectContaining({
          email: 'ada@example.com',
          external_id: 'ic-42',
          properties: { plan: 'pro', seats: 5 },
        }),
      );
      // "setting a field to null will clear out the field"
      expect(updated.body.data.attributes.first_name).toBeUndefined();

      // Found again by external_id alone; an event sent with that identifier lands on the same profile.
      const byExternal = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ external_id: 'ic-42', last_name: 'Lovelace' }),
      );
      expect(byExternal.status).toBe(200);
      expect(byExternal.body.data.id).toBe(id);
      await call(em, 'POST', BULK, bulkBody([{ external_id: 'ic-42', unique_id: 'e1' }]));
      expect(em.store.events[0].profileId).toBe(id);
      expect(em.store.profiles()).toHaveLength(1);

      const noId = await call(em, 'POST', '/api/profile-import', profileBody({ first_name: 'Nobody' }));
      expect(noId.status).toBe(400);
      expectErrorBody('create_or_update_profile', '4XX', noId);
    });

    it('runs a bulk import job: 202 with the job, upserts its profiles, reports it complete with its errors', async () => {
      await start();
      const body = {
        data: {
          type: 'profile-bulk-import-job',
          attributes: {
            profiles: {
              data: [
                { type: 'profile', attributes: { email: 'a@example.com', properties: { tier: 'gold' } } },
                { type: 'profile', attributes: { first_name: 'No identifier' } },
                { type: 'profile', attributes: { phone_number: '+15005550006' } },
              ],
            },
          },
        },
      };
      const res = await call(em, 'POST', '/api/profile-bulk-import-jobs', body);
      expect(res.status).toBe(202);
      expect(
        klaviyoContract('bulk_import_profiles').validateResponseBody(
          'post',
          '/api/profile-bulk-import-jobs',
          202,
          res.body,
        ).errors,
      ).toEqual([]);
      const jobId = res.body.data.id;

      const job = await call(em, 'GET', `/api/profile-bulk-import-jobs/${jobId}`);
      expect(job.status).toBe(200);
      expect(
        klaviyoContract('get_bulk_import_profiles_job').validateResponseBody(
          'get',
          '/api/profile-bulk-import-jobs/{job_id}',
          200,
          job.body,
        ).errors,
      ).toEqual([]);
      expect(job.body.data.attributes).toEqual(
        expect.objectContaining({ status: 'complete', total_count: 3, completed_count: 2, failed_count: 1 }),
      );

      const errors = await call(em, 'GET', `/api/profile-bulk-import-jobs/${jobId}/import-errors`);
      expect(errors.status).toBe(200);
      expect(
        klaviyoContract('get_errors_for_bulk_import_profiles_job').validateResponseBody(
          'get',
          '/api/profile-bulk-import-jobs/{id}/import-errors',
          200,
          errors.body,
        ).errors,
      ).toEqual([]);
      expect(errors.body.data[0].attributes.source.pointer).toBe('/data/attributes/profiles/data/1');
      expect(
        em.store
          .profiles()
          .map((p) => p.email ?? p.phone_number)
          .sort(),
      ).toEqual(['+15005550006', 'a@example.com']);

      const missing = await call(em, 'GET', '/api/profile-bulk-import-jobs/nope');
      expect(missing.status).toBe(404);
      expectErrorBody('get_bulk_import_profiles_job', '4XX', missing);
    });

    it('with asyncJobs, applies bulk jobs after the delay (queued until then)', async () => {
      await start({ asyncJobs: { delayMs: 30 } });
      const job = await call(em, 'POST', '/api/profile-bulk-import-jobs', {
        data: {
          type: 'profile-bulk-import-job',
          attributes: { profiles: { data: [{ type: 'profile', attributes: { email: 'a@example.com' } }] } },
        },
      });
      expect(job.body.data.attributes.status).toBe('queued');
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'u1' }]))).status).toBe(202);
      expect(em.store.events).toHaveLength(0);
      await em.drain();
      expect(em.store.events).toHaveLength(1);
      expect(
        (await call(em, 'GET', `/api/profile-bulk-import-jobs/${job.body.data.id}`)).body.data.attributes.status,
      ).toBe('complete');
    });
  });

  describe('POST /api/data-privacy-deletion-jobs', () => {
    const deletion = (attributes: Record<string, unknown>, id?: string) => ({
      data: {
        type: 'data-privacy-deletion-job',
        attributes: { profile: { data: { type: 'profile', ...(id ? { id } : {}), attributes } } },
      },
    });

    it('records the request, removes the profile (and its events) and answers 202', async () => {
      await start();
      await call(
        em,
        'POST',
        BULK,
        bulkBody([
          { email: 'ada@example.com', unique_id: 'u1' },
          { email: 'bob@example.com', unique_id: 'u2' },
        ]),
      );
      const res = await call(em, 'POST', '/api/data-privacy-deletion-jobs', deletion({ email: 'ada@example.com' }));
      expect(res.status).toBe(202);
      expect(em.store.profiles().map((p) => p.email)).toEqual(['bob@example.com']);
      expect(em.store.events.map((e) => e.profile.email)).toEqual(['bob@example.com']);
      expect(em.store.deletions).toEqual([
        expect.objectContaining({ identifier: { email: 'ada@example.com' }, deletedEvents: 1 }),
      ]);
      expect((await call(em, 'GET', '/__emulator/deletions')).body.data).toHaveLength(1);

      const bobId = em.store.profiles()[0].id;
      expect((await call(em, 'POST', '/api/data-privacy-deletion-jobs', deletion({}, bobId))).status).toBe(202);
      expect(em.store.profiles()).toHaveLength(0);
    });

    it('answers 400 when more than one identifier is given ("we will return an error")', async () => {
      await start();
      const res = await call(
        em,
        'POST',
        '/api/data-privacy-deletion-jobs',
        deletion({ email: 'a@example.com', phone_number: '+15005550006' }),
      );
      expect(res.status).toBe(400);
      expectErrorBody('request_profile_deletion', '4XX', res);
      expect(em.store.deletions).toHaveLength(0);
    });
  });

  describe('faults', () => {
    it('next500: the next n requests answer 500 and store nothing', async () => {
      await start();
      em.faults.next500(2);
      const body = bulkBody([{ email: 'a@example.com', unique_id: 'u1' }]);
      const first = await call(em, 'POST', BULK, body);
      expect(first.status).toBe(500);
      expectErrorBody('bulk_create_events', '5XX', first);
      expect((await call(em, 'POST', BULK, body)).status).toBe(500);
      expect(em.store.events).toHaveLength(0);
      expect((await call(em, 'POST', BULK, body)).status).toBe(202);
      expect(em.store.events).toHaveLength(1);
    });

    it('storm429: every request answers 429 with Retry-After until the storm ends', async () => {
      await start();
      em.faults.storm429(2500);
      const res = await call(em, 'POST', '/api/events', eventBody({ email: 'a@example.com', unique_id: 'u1' }));
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(em.store.throttled).toBe(1);
      clock += 2500;
      expect(
        (await call(em, 'POST', '/api/events', eventBody({ email: 'a@example.com', unique_id: 'u1' }))).status,
      ).toBe(202);
    });

    it('timeout: drops the connection without an answer; with processed the request was applied first', async () => {
      await start();
      em.faults.timeout(1, 20);
      await expect(call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'lost' }]))).rejects.toThrow();
      expect(em.store.events).toHaveLength(0);
      em.faults.timeout(1, 20, { processed: true });
      await expect(
        call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'applied' }])),
      ).rejects.toThrow();
      expect(em.store.events.map((e) => e.unique_id)).toEqual(['applied']);
      expect(em.store.requestLog().map((r) => r.status)).toEqual([0, 0]);
    });

    it('timeout with reset: the connection is reset (ECONNRESET) after the request was applied', async () => {
      await start();
      em.faults.timeout(1, 0, { processed: true, reset: true });
      const err = await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'reset' }])).then(
        () => null,
        (e: Error) => e,
      );
      expect((err?.cause as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
      expect(em.store.events.map((e) => e.unique_id)).toEqual(['reset']);
    });

    it('rejectEvent: a bulk request holding the event fails with 400 pointing at it; the others pass alone', async () => {
      await start();
      em.faults.rejectEvent('poison');
      const res = await call(
        em,
        'POST',
        BULK,
        bulkBody([
          { email: 'a@example.com', unique_id: 'ok-1' },
          { email: 'b@example.com', unique_id: 'poison' },
          { email: 'c@example.com', unique_id: 'ok-2' },
        ]),
      );
      expect(res.status).toBe(400);
      expectErrorBody('bulk_create_events', '4XX', res);
      expect(res.body.errors[0].source.pointer).toBe(
        '/data/attributes/events-bulk-create/data/1/attributes/events/data/0',
      );
      expect(em.store.events).toHaveLength(0);
      expect(
        (
          await call(
            em,
            'POST',
            BULK,
            bulkBody([
              { email: 'a@example.com', unique_id: 'ok-1' },
              { email: 'c@example.com', unique_id: 'ok-2' },
            ]),
          )
        ).status,
      ).toBe(202);
      expect(em.store.events).toHaveLength(2);
      em.faults.rejectEvent((e) => e.metric === 'Bad Metric');
      expect(
        (await call(em, 'POST', '/api/events', eventBody({ email: 'a@example.com', metric: 'Bad Metric' }))).status,
      ).toBe(400);
    });

    it('is driven over HTTP too: POST /__emulator/faults, POST /__emulator/reset', async () => {
      await start();
      const set = await call(em, 'POST', '/__emulator/faults', { next500: 1, rejectUniqueIds: ['bad'] });
      expect(set.status).toBe(200);
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'u1' }]))).status).toBe(500);
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'bad' }]))).status).toBe(400);
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'u1' }]))).status).toBe(202);
      await call(em, 'POST', '/__emulator/faults', { storm429Ms: 1000 });
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'u2' }]))).status).toBe(429);

      expect((await call(em, 'POST', '/__emulator/reset')).status).toBe(200);
      expect((await call(em, 'POST', BULK, bulkBody([{ email: 'a@example.com', unique_id: 'bad' }]))).status).toBe(202);
      const stats = (await call(em, 'GET', '/__emulator/stats')).body;
      expect(stats).toEqual(expect.objectContaining({ requests: 1, eventsStored: 1, throttled: 0, profiles: 1 }));
      expect((await call(em, 'GET', '/__emulator/profiles')).body.data[0].email).toBe('a@example.com');
    });
  });
  describe('strict as Klaviyo: what Klaviyo refuses', () => {
    it("answers 400 with Klaviyo's error body for an invalid email or a phone number not in E.164, and stores nothing", async () => {
      await start();
      const badEmail = await call(em, 'POST', '/api/profile-import', profileBody({ email: 'not-an-email' }));
      expect(badEmail.status).toBe(400);
      expectErrorBody('create_or_update_profile', '4XX', badEmail);
      expect(badEmail.body.errors[0]).toMatchObject({ code: 'invalid', source: { pointer: '/data/attributes/email' } });

      const badPhone = await call(em, 'POST', '/api/profile-import', profileBody({ phone_number: '415 555 0100' }));
      expect(badPhone.status).toBe(400);
      expectErrorBody('create_or_update_profile', '4XX', badPhone);
      expect(badPhone.body.errors[0]).toMatchObject({
        code: 'invalid',
        source: { pointer: '/data/attributes/phone_number' },
      });

      const bulk = await call(
        em,
        'POST',
        BULK,
        bulkBody([
          { email: 'ok@example.com', unique_id: 'a' },
          { email: 'bad@@example', unique_id: 'b' },
        ]),
      );
      expect(bulk.status).toBe(400);
      expectErrorBody('bulk_create_events', '4XX', bulk);
      expect(bulk.body.errors[0].source.pointer).toBe(
        '/data/attributes/events-bulk-create/data/1/attributes/profile/data/attributes/email',
      );

      const event = await call(em, 'POST', '/api/events', eventBody({ email: 'nobody' }));
      expect(event.status).toBe(400);
      expectErrorBody('create_event', '4XX', event);

      expect(em.store.profiles()).toHaveLength(0);
      expect(em.store.events).toHaveLength(0);
    });

    it('answers 409 duplicate_profile when the identifiers name two different profiles, and changes neither', async () => {
      await start();
      const ada = await call(em, 'POST', '/api/profile-import', profileBody({ email: 'ada@example.com' }));
      const bob = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'bob@example.com', external_id: 'ic-bob' }),
      );
      expect([ada.status, bob.status]).toEqual([201, 201]);
      const conflict = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'ada@example.com', external_id: 'ic-bob' }),
      );
      expect(conflict.status).toBe(409);
      expectErrorBody('create_or_update_profile', '4XX', conflict);
      expect(conflict.body.errors[0]).toMatchObject({
        code: 'duplicate_profile',
        meta: { duplicate_profile_id: bob.body.data.id },
      });
      expect(em.store.profiles().map((p) => [p.email, p.external_id])).toEqual([
        ['ada@example.com', null],
        ['bob@example.com', 'ic-bob'],
      ]);
    });

    it('the conflict names the profile holding the identifier that cannot be added, at /data/attributes', async () => {
      await start();
      const a = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'a@example.com', phone_number: '+14155550101' }),
      );
      const b = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'b@example.com', phone_number: '+14155550102' }),
      );
      const conflict = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'a@example.com', phone_number: '+14155550102' }),
      );
      expect(conflict.status).toBe(409);
      expect(conflict.body.errors[0]).toMatchObject({
        code: 'duplicate_profile',
        source: { pointer: '/data/attributes' },
        meta: { duplicate_profile_id: b.body.data.id },
      });
      // without the conflicting phone the upsert lands on the email's profile
      const retried = await call(
        em,
        'POST',
        '/api/profile-import',
        profileBody({ email: 'a@example.com', first_name: 'Ada' }),
      );
      expect([retried.status, retried.body.data.id]).toEqual([200, a.body.data.id]);
    });

    it('events whose identifiers name two profiles: 202, recorded on the profile matched first (email), the phone stays with its holder', async () => {
      await start();
      const a = (
        await call(
          em,
          'POST',
          '/api/profile-import',
          profileBody({ email: 'a@example.com', phone_number: '+14155550101' }),
        )
      ).body.data.id;
      const b = (
        await call(
          em,
          'POST',
          '/api/profile-import',
          profileBody({ email: 'b@example.com', phone_number: '+14155550102' }),
        )
      ).body.data.id;
      const conflicting = { email: 'a@example.com', phone_number: '+14155550102' };
      expect((await call(em, 'POST', '/api/events', eventBody({ ...conflicting, unique_id: 'single' }))).status).toBe(
        202,
      );
      expect((await call(em, 'POST', BULK, bulkBody([{ ...conflicting, unique_id: 'bulk' }]))).status).toBe(202);
      expect(em.store.events.map((e) => [e.unique_id, e.profileId])).toEqual([
        ['single', a],
        ['bulk', a],
      ]);
      expect(em.store.profile(a)).toMatchObject({ email: 'a@example.com', phone_number: '+14155550101' });
      expect(em.store.profile(b)).toMatchObject({ email: 'b@example.com', phone_number: '+14155550102' });
      // so an event by that phone alone resolves to its holder, and still does when sent again after
      // Bob's own events (issue #10: a replay stored 4 of 21 events twice because the phone had moved)
      const byPhone = () =>
        call(em, 'POST', '/api/events', eventBody({ phone_number: '+14155550102', unique_id: 'by-phone' }));
      expect((await byPhone()).status).toBe(202);
      expect(
        (
          await call(
            em,
            'POST',
            '/api/events',
            eventBody({ email: 'b@example.com', phone_number: '+14155550102', unique_id: 'bob' }),
          )
        ).status,
      ).toBe(202);
      expect((await byPhone()).status).toBe(202);
      expect(em.store.events.filter((e) => e.unique_id === 'by-phone').map((e) => e.profileId)).toEqual([b]);
      expect(em.store.duplicateEventsIgnored).toBe(1);
      expect(em.store.profiles()).toHaveLength(2);
    });

    it("answers 429 with Retry-After and Klaviyo's throttled body, and keeps the first event per unique_id", async () => {
      await start({ limitOverrides: { create_event: { burst: 1 } } });
      expect(
        (await call(em, 'POST', '/api/events', eventBody({ email: 'ada@example.com', unique_id: 'u1' }))).status,
      ).toBe(202);
      const throttled = await call(em, 'POST', '/api/events', eventBody({ email: 'ada@example.com', unique_id: 'u1' }));
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('1');
      expectErrorBody('create_event', '4XX', throttled);
      expect(throttled.body.errors[0].code).toBe('throttled');
      clock += 1000;
      expect(
        (
          await call(
            em,
            'POST',
            '/api/events',
            eventBody({ email: 'ada@example.com', unique_id: 'u1', properties: { again: true } }),
          )
        ).status,
      ).toBe(202);
      expect(em.store.events.map((e) => [e.unique_id, e.properties])).toEqual([['u1', {}]]);
      expect(em.store.duplicateEventsIgnored).toBe(1);
    });
  });
});
