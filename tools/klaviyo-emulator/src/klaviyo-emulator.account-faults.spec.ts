import { klaviyoContract, OpenApiValidator } from '@iks/contracts';
import { KLAVIYO_REVISION } from '@iks/domain';
import { startKlaviyoEmulator, type KlaviyoEmulator } from './klaviyo-emulator.server';

/** A whole minute, so fixed rate-limit windows are exact. */
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const KEY_A = 'pk_aaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'pk_bbbbbbbbbbbbbbbbbbbb';
const KEY_C = 'pk_cccccccccccccccccccc';
const A = 'AcctAA';
const B = 'AcctBB';
const C = 'AcctCC';

interface Res {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (HTTP answer) read field by field by many assertions
  body: any;
}

async function call(em: KlaviyoEmulator, method: string, path: string, body?: unknown, key?: string): Promise<Res> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key) {
    Object.assign(headers, {
      Authorization: `Klaviyo-API-Key ${key}`,
      revision: KLAVIYO_REVISION,
      'Content-Type': 'application/vnd.api+json',
      Accept: 'application/vnd.api+json',
    });
  }
  const r = await fetch(em.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

function bulk(email: string, ...uniqueIds: string[]) {
  return {
    data: {
      type: 'event-bulk-create-job',
      attributes: {
        'events-bulk-create': {
          data: [
            {
              type: 'event-bulk-create',
              attributes: {
                profile: { data: { type: 'profile', attributes: { email } } },
                events: {
                  data: uniqueIds.map((u) => ({
                    type: 'event',
                    attributes: {
                      properties: { conversation_id: u },
                      metric: { data: { type: 'metric', attributes: { name: 'Conversation Created' } } },
                      unique_id: u,
                    },
                  })),
                },
              },
            },
          ],
        },
      },
    },
  };
}

const send = (em: KlaviyoEmulator, key: string, uniqueId: string, email = 'ada@example.com') =>
  call(em, 'POST', '/api/event-bulk-create-jobs', bulk(email, uniqueId), key);

/** A 4XX / 5XX answer valid against components.responses.ClientError / ServerError of bulk_create_events. */
function expectErrorDocument(res: Res, status: number, code: string): void {
  expect(res.status).toBe(status);
  const doc = structuredClone(klaviyoContract('bulk_create_events').document);
  const name = status >= 500 ? 'ServerError' : 'ClientError';
  doc.components.schemas[name] = doc.components.responses[name].content['application/vnd.api+json'].schema;
  expect(new OpenApiValidator(doc, `bulk_create_events-${name}`).validateComponent(name, res.body).errors).toEqual([]);
  expect(res.body.errors[0]).toEqual(expect.objectContaining({ status, code }));
}

describe('Klaviyo emulator: faults of one account (#22)', () => {
  let em: KlaviyoEmulator;
  let clock = T0;

  beforeEach(async () => {
    clock = T0;
    em = await startKlaviyoEmulator({
      now: () => clock,
      apiKeys: ['pk_default_key_0001'],
      accounts: [
        { id: A, name: 'Brand A', privateKeys: [KEY_A] },
        {
          id: B,
          name: 'Brand B',
          privateKeys: [KEY_B],
          limitOverrides: { bulk_create_events: { burst: 3, steady: 100 } },
        },
        { id: C, name: 'Brand C', privateKeys: [KEY_C] },
      ],
    });
  });
  afterEach(() => em.close());

  const faultsOf = (id: string, body: unknown) => call(em, 'POST', `/__emulator/accounts/${id}/faults`, body);
  const accountView = async (id: string) => (await call(em, 'GET', `/__emulator/accounts/${id}`)).body;

  it('401 for one account for N seconds while the others answer normally; then it recovers', async () => {
    const set = await faultsOf(A, { refuseKeyMs: 60_000 });
    expect(set.status).toBe(200);
    expect(set.body.refuseKeyMs).toBe(60_000);
    expectErrorDocument(await send(em, KEY_A, 'a-1'), 401, 'authentication_failed');
    expect((await send(em, KEY_B, 'b-1')).status).toBe(202);
    expect((await send(em, KEY_C, 'c-1')).status).toBe(202);
    clock += 59_000;
    expect((await send(em, KEY_A, 'a-2')).status).toBe(401);
    clock += 1_000;
    expect((await send(em, KEY_A, 'a-3')).status).toBe(202);

    expect(em.account(A).store.events.map((e) => e.unique_id)).toEqual(['a-3']);
    expect(em.account(B).store.events.map((e) => e.unique_id)).toEqual(['b-1']);
    // the refusals are counted in the account they were for, not in the default one
    const a = await accountView(A);
    expect(a).toMatchObject({ requests: 3, by_status: { '401': 2, '202': 1 }, events: 1 });
    expect((await accountView(B)).by_status).toEqual({ '202': 1 });
    expect(em.store.requestsTotal).toBe(0);
    // emulator-wide faults are untouched
    expect((await call(em, 'GET', '/__emulator/faults')).body.refuseKeyMs).toBe(0);
  });

  it('403 permission_denied for one account for N seconds', async () => {
    await faultsOf(B, { forbidMs: 5_000 });
    expectErrorDocument(await send(em, KEY_B, 'b-1'), 403, 'permission_denied');
    expect((await send(em, KEY_A, 'a-1')).status).toBe(202);
    clock += 5_000;
    expect((await send(em, KEY_B, 'b-2')).status).toBe(202);
  });

  it("a 429 storm on one account (Retry-After: the seconds left, Klaviyo's throttled body); the others keep their own limits", async () => {
    await faultsOf(A, { storm429Ms: 30_000 });
    const first = await send(em, KEY_A, 'a-1');
    expectErrorDocument(first, 429, 'throttled');
    expect(first.headers.get('retry-after')).toBe('30');
    expect(first.body.errors[0].detail).toBe('Request was throttled. Expected available in 30 seconds.');
    expect(first.headers.get('ratelimit-limit')).toBeNull();
    clock += 10_500;
    expect((await send(em, KEY_A, 'a-2')).headers.get('retry-after')).toBe('20');

    // B: its own burst of 3 a second, untouched by A's storm
    const b = [];
    for (let i = 0; i < 4; i++) b.push(await send(em, KEY_B, `b-${i}`));
    expect(b.map((r) => r.status)).toEqual([202, 202, 202, 429]);
    expect(b[0].headers.get('ratelimit-limit')).not.toBeNull();
    expect(b[3].headers.get('retry-after')).toBe('1');
    // C at the documented limits
    expect((await send(em, KEY_C, 'c-1')).status).toBe(202);

    clock += 20_000;
    expect((await send(em, KEY_A, 'a-3')).status).toBe(202);
    expect((await accountView(A)).throttled).toBe(2);
    expect((await accountView(B)).throttled).toBe(1);
    expect((await accountView(C)).throttled).toBe(0);
  });

  it('5xx for one account for N seconds (500 by default, or 502 / 503 / 504), valid against ServerError', async () => {
    await faultsOf(C, { outage500Ms: 120_000, outageStatus: 503 });
    expectErrorDocument(await send(em, KEY_C, 'c-1'), 503, 'error');
    expect((await send(em, KEY_A, 'a-1')).status).toBe(202);
    clock += 60_000;
    expect((await send(em, KEY_C, 'c-2')).status).toBe(503);
    clock += 60_000;
    expect((await send(em, KEY_C, 'c-3')).status).toBe(202);
    expect(em.account(C).store.events.map((e) => e.unique_id)).toEqual(['c-3']);

    await faultsOf(A, { outage500Ms: 1_000 });
    expectErrorDocument(await send(em, KEY_A, 'a-2'), 500, 'error');
    const bad = await faultsOf(A, { outage500Ms: 1_000, outageStatus: 418 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].detail).toMatch(/500, 502, 503 or 504/);
  });

  it("queued faults and event rules of one account: only that account's requests see them", async () => {
    await faultsOf(A, { next500: 2, rejectUniqueIds: ['poison'] });
    expect((await send(em, KEY_B, 'b-1')).status).toBe(202);
    expect((await send(em, KEY_A, 'a-1')).status).toBe(500);
    expect((await send(em, KEY_A, 'a-1')).status).toBe(500);
    expect((await send(em, KEY_A, 'a-1')).status).toBe(202);
    expect((await send(em, KEY_A, 'poison')).status).toBe(400);
    expect((await send(em, KEY_B, 'poison')).status).toBe(202);
    const described = await call(em, 'GET', `/__emulator/accounts/${A}/faults`);
    expect(described.body.eventRules).toEqual([{ match: 'poison', remaining: null }]);
    expect((await call(em, 'DELETE', `/__emulator/accounts/${A}/faults`)).body.eventRules).toEqual([]);
    expect((await send(em, KEY_A, 'poison')).status).toBe(202);
  });

  it('emulator-wide faults still hit every account; reset clears both kinds', async () => {
    await call(em, 'POST', '/__emulator/faults', { refuseKeyMs: 10_000 });
    await faultsOf(B, { storm429Ms: 60_000 });
    for (const key of [KEY_A, KEY_B, KEY_C]) expect((await send(em, key, 'x')).status).toBe(401);
    clock += 10_000;
    expect((await send(em, KEY_A, 'a-1')).status).toBe(202);
    expect((await send(em, KEY_B, 'b-1')).status).toBe(429);
    await call(em, 'POST', '/__emulator/reset');
    expect((await send(em, KEY_B, 'b-2')).status).toBe(202);
    expect((await accountView(B)).faults.storm429Ms).toBe(0);
    expect((await call(em, 'POST', '/__emulator/accounts/NoSuch/faults', { refuseKeyMs: 1 })).status).toBe(404);
  });

  it('reads where each event landed: events/where and events/overlap across accounts', async () => {
    expect((await send(em, KEY_A, 'only-a', 'a@example.com')).status).toBe(202);
    expect((await send(em, KEY_B, 'only-b', 'b@example.com')).status).toBe(202);
    expect((await send(em, KEY_A, 'both', 'a@example.com')).status).toBe(202);
    expect((await send(em, KEY_C, 'both', 'c@example.com')).status).toBe(202);

    const where = (q: string) => call(em, 'GET', `/__emulator/events/where?${q}`);
    expect((await where('unique_id=only-a')).body.data).toEqual([{ account: A, events: 1 }]);
    expect((await where('unique_id=both')).body.data).toEqual([
      { account: A, events: 1 },
      { account: C, events: 1 },
    ]);
    expect((await where('email=b@example.com')).body.data).toEqual([{ account: B, events: 1 }]);
    expect((await where('unique_id=nowhere')).body.data).toEqual([]);
    expect((await where('')).status).toBe(400);
    const overlap = await call(em, 'GET', '/__emulator/events/overlap');
    expect(overlap.body).toEqual({ total: 1, data: [{ unique_id: 'both', accounts: [A, C].sort() }] });
    // the per-account records: each account's own events
    const b = await call(em, 'GET', `/__emulator/accounts/${B}/events`);
    expect(b.body.data.map((e: { unique_id: string }) => e.unique_id)).toEqual(['only-b']);
  });
});

describe('Klaviyo emulator: events/where without retained events', () => {
  it('says the events are not kept instead of answering an empty list', async () => {
    const em = await startKlaviyoEmulator({ retainEvents: false });
    try {
      const r = await call(em, 'GET', '/__emulator/events/where?unique_id=x');
      expect(r.status).toBe(400);
      expect(r.body.errors[0].detail).toMatch(/not retained/);
    } finally {
      await em.close();
    }
  });
});
