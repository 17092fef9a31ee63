import { Secret } from '@iks/config';
import { startIntercomEmulator, type IntercomEmulator } from '../../../tools/intercom-emulator/src';
import { IntercomApiError } from './intercom-api.error';
import { IntercomClient, type IntercomClientOptions } from './intercom.client';
import { RequestGate } from './request-gate';

const ALL = { field: 'updated_at', operator: '>', value: 0 } as const;

describe('IntercomClient against the Intercom emulator', () => {
  let emu: IntercomEmulator;
  const client = (o: Partial<IntercomClientOptions> = {}) =>
    new IntercomClient({ baseUrl: emu.url, accessToken: new Secret(emu.accessToken), retryInitialMs: 10, ...o });

  beforeAll(async () => {
    emu = await startIntercomEmulator({ dataset: { seed: 7, contacts: 35, conversations: 12, tickets: 6 } });
  });
  afterEach(() => emu.reset());
  afterAll(() => emu.close());

  it('pages through a search with the cursor until pages.next is absent', async () => {
    const c = client();
    const ids: string[] = [];
    const totals: Array<number | undefined> = [];
    for await (const page of c.allContacts(ALL, { perPage: 10 })) {
      ids.push(...page.items.map((i) => i.id));
      totals.push(page.totalCount);
    }
    expect(ids).toHaveLength(35);
    expect(new Set(ids).size).toBe(35);
    expect(totals).toEqual([35, 35, 35, 35]);
    const searches = emu.requests.filter((r) => r.path === '/contacts/search');
    expect(searches).toHaveLength(4);
    expect(searches[0].intercomVersion).toBe('2.14');
    expect(searches[0].body).toEqual({ query: ALL, pagination: { per_page: 10 } });
    expect((searches[1].body as { pagination: { starting_after?: unknown } }).pagination.starting_after).toEqual(
      expect.any(String),
    );

    const first = await c.searchConversations(ALL, { perPage: 5 });
    expect(first.items).toHaveLength(5);
    expect(first.next).toEqual(expect.any(String));
    expect((await c.searchTickets(ALL)).items).toHaveLength(6);
  });

  it('404 on getContact is undefined; the directory lists come back', async () => {
    const c = client();
    expect(await c.getContact('nope')).toBeUndefined();
    const known = emu.dataset.contacts[0];
    expect((await c.getContact(known.id))?.id).toBe(known.id);
    expect(Array.isArray(await c.getContactSubscriptions(known.id))).toBe(true);
    expect((await c.listAdmins()).length).toBe(emu.dataset.admins.length);
    expect((await c.listTeams()).length).toBe(emu.dataset.teams.length);
    expect((await c.listTags()).length).toBe(emu.dataset.tags.length);
  });

  it('retries 5xx with backoff and then succeeds', async () => {
    const retries: number[] = [];
    emu.injectFault({ status: 503, count: 2 });
    const admins = await client({ onRetry: (i) => retries.push(i.attempt) }).listAdmins();
    expect(admins.length).toBeGreaterThan(0);
    expect(emu.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(retries).toEqual([1, 2]);
  });

  it('gives up on 5xx after the retries with a retriable typed error', async () => {
    emu.injectFault({ status: 500, count: 10 });
    const err = await client({ retries: 2 })
      .listTeams()
      .catch((e) => e);
    expect(err).toBeInstanceOf(IntercomApiError);
    expect(err).toMatchObject({ status: 500, code: 'server_error', retriable: true });
  });

  it('on 429 waits until X-RateLimit-Reset and retries', async () => {
    await emu.close();
    emu = await startIntercomEmulator({
      dataset: { seed: 7, contacts: 35, conversations: 12, tickets: 6 },
      rateLimit: { perWindow: 1000, windowSeconds: 1 },
    });
    emu.injectFault({ status: 429 });
    const started = Date.now();
    const admins = await client({ retryInitialMs: 1 }).listAdmins();
    expect(admins.length).toBeGreaterThan(0);
    expect(emu.requests.map((r) => r.status)).toEqual([429, 200]);
    // the injected 429 says Remaining 0 until the end of the current 1 s window
    const resetAt = Math.floor(emu.requests[0].at / 1000) * 1000 + 1000;
    expect(emu.requests[1].at).toBeGreaterThanOrEqual(resetAt);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('waits for the window when X-RateLimit-Remaining reaches 0 instead of hitting 429', async () => {
    await emu.close();
    emu = await startIntercomEmulator({
      dataset: { seed: 7, contacts: 5, conversations: 1, tickets: 1 },
      rateLimit: { perWindow: 3, windowSeconds: 1 },
    });
    const c = client({ maxConcurrency: 1 });
    for (let i = 0; i < 7; i++) await c.listTags();
    expect(emu.requests.filter((r) => r.status === 429)).toHaveLength(0);
    expect(emu.requests.filter((r) => r.status === 200)).toHaveLength(7);
  });

  it('401 is a non-retriable typed error that does not contain the token', async () => {
    const err = await client({ accessToken: new Secret('tok_very_secret_value') })
      .listAdmins()
      .catch((e) => e);
    expect(err).toBeInstanceOf(IntercomApiError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized', retriable: false });
    expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain('tok_very_secret_value');
    expect(emu.requests).toHaveLength(1);
  });

  it('400 from a bad query is not retried', async () => {
    const err = await client()
      .searchContacts({ field: 'updated_at', operator: 'BOGUS', value: 1 })
      .catch((e) => e);
    expect(err).toMatchObject({ status: 400, retriable: false });
    expect(emu.requests).toHaveLength(1);
  });

  it('a network error is retriable and typed', async () => {
    const err = await new IntercomClient({
      baseUrl: 'http://127.0.0.1:9',
      accessToken: new Secret('x'),
      retries: 1,
      retryInitialMs: 1,
    })
      .listAdmins()
      .catch((e) => e);
    expect(err).toMatchObject({ status: 0, code: 'network_error', retriable: true });
  });
});

describe('RequestGate', () => {
  it('keeps at most N requests in flight', async () => {
    const gate = new RequestGate(2);
    let now = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        gate.run(async () => {
          peak = Math.max(peak, ++now);
          await new Promise((r) => setTimeout(r, 5));
          now--;
        }),
      ),
    );
    expect(peak).toBe(2);
  });
});
