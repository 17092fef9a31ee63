import { Logger } from '@nestjs/common';
import type { KlaviyoDeletionRecord } from '@iks/domain';
import { ManualClock } from '@iks/retry';
import { KlaviyoApiError } from './klaviyo-api.error';
import { KlaviyoCaller } from './klaviyo-caller';
import type { KlaviyoResponse } from './klaviyo-http.client';
import { RateBudget } from './rate-budget';
import { eventRecord, profileRecord } from './__tests__/fixtures';
import { KEY, klaviyoHarness, submitAll } from './__tests__/delivery-harness';
import { defaultResponder, klaviyoError } from './__tests__/klaviyo-test-double';

describe('KlaviyoCaller', () => {
  const h = klaviyoHarness();
  let errorLines: string[];
  beforeEach(() => {
    errorLines = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void errorLines.push(String(m)));
  });
  afterEach(() => jest.restoreAllMocks());

  it('caps each wait at 30 s by default: 40 queued 500s, then Klaviyo is used within 30 s of recovering (issue #14)', async () => {
    const clock = new ManualClock();
    let calls = 0;
    let recovered = false;
    const delays: number[] = [];
    const caller = new KlaviyoCaller({
      client: {
        request: async () => {
          calls++;
          if (!recovered) throw new KlaviyoApiError({ status: 500, code: 'error', detail: 'boom' });
          return { status: 202, body: undefined, rateLimit: {} };
        },
      },
      clock,
      budget: new RateBudget({ clock }),
      retry: { random: () => 0.999 },
      onRetry: (_op, i) => delays.push(i.delayMs),
    });
    const done = caller.send({ group: 'events-bulk', priority: 'live', path: '/api/event-bulk-create-jobs', body: {} });
    for (let i = 0; i < 200 && calls < 40; i++) await clock.advance(30_000);
    expect(calls).toBe(40);
    recovered = true;
    const at = clock.now();
    await clock.advance(30_000);
    await expect(done).resolves.toMatchObject({ status: 202 });
    expect(clock.now() - at).toBeLessThanOrEqual(30_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30_000);
  });

  it('three 429s (Retry-After 1 s) then three 500s are over in 3 s + at most 1 + 2 + 4 s of backoff (issue #21)', async () => {
    const clock = new ManualClock();
    const answers = [429, 429, 429, 500, 500, 500, 202];
    const sentAt: number[] = [];
    const budget = new RateBudget({ clock, windowMarginMs: 200 });
    // the sink's budget: one replica's paced share of the whole account
    budget.setShare('events-bulk', budget.limitsOf('events-bulk'), [], { paced: true });
    const caller = new KlaviyoCaller({
      client: {
        request: async () => {
          sentAt.push(clock.now());
          const status = answers.shift()!;
          if (status === 202) return { status, body: undefined, rateLimit: {} };
          throw new KlaviyoApiError({
            status,
            code: status === 429 ? 'throttled' : 'error',
            detail: 'x',
            retriable: true,
            retryAfterMs: status === 429 ? 1000 : undefined,
          });
        },
      },
      clock,
      budget,
      retry: { random: () => 0.999 }, // the longest full-jitter waits
    });
    const done = caller.send({ group: 'events-bulk', priority: 'live', path: '/api/event-bulk-create-jobs', body: {} });
    for (let i = 0; i < 600 && sentAt.length < 7; i++) await clock.advance(100);
    await expect(done).resolves.toMatchObject({ status: 202 });
    // each 429 waited its Retry-After (the budget's pause ends with it), then 1, 2, 4 s ceilings;
    // before, the 500s backed off as retries 4 to 6 (8, 16, 30 s ceilings: 57 s in all)
    expect(sentAt[3] - sentAt[0]).toBeLessThanOrEqual(3000 + 300);
    expect(sentAt[6] - sentAt[0]).toBeLessThanOrEqual(3000 + 7000 + 600);
    expect(budget.usage('events-bulk').waitingLive).toBe(0);
  });

  it("a 429's Retry-After pauses the budget no longer than maxDelayMs (the next try goes within it)", async () => {
    const clock = new ManualClock();
    const answers = [429, 202];
    const sentAt: number[] = [];
    const budget = new RateBudget({ clock });
    const caller = new KlaviyoCaller({
      client: {
        request: async () => {
          sentAt.push(clock.now());
          const status = answers.shift()!;
          if (status === 202) return { status, body: undefined, rateLimit: {} };
          throw new KlaviyoApiError({ status, code: 'throttled', detail: 'x', retriable: true, retryAfterMs: 60_000 });
        },
      },
      clock,
      budget,
      retry: { maxDelayMs: 2000, random: () => 0.999 },
    });
    const done = caller.send({ group: 'events-bulk', priority: 'live', path: '/api/event-bulk-create-jobs', body: {} });
    for (let i = 0; i < 600 && sentAt.length < 2; i++) await clock.advance(100);
    await expect(done).resolves.toMatchObject({ status: 202 });
    expect(sentAt[1] - sentAt[0]).toBeLessThanOrEqual(2000 + 100);
  });

  it('a 401 spell is waited out: alert raised then cleared, every record delivered, nothing rejected (issue #14)', async () => {
    const refusals: number[] = [];
    let recoveries = 0;
    const d = h.delivery({ onSystemic: (s) => refusals.push(s), onRecovered: () => recoveries++ });
    h.klaviyo.responder = () => klaviyoError(401, 'authentication_failed', 'Incorrect authentication credentials.');
    const events = Array.from({ length: 5 }, (_, i) => eventRecord({ unique_id: `u${i}` }));
    const del: KlaviyoDeletionRecord = {
      kind: 'deletion',
      intercom_contact_id: 'c-9',
      email: 'gone@example.com',
      requested_at: 1,
      source_notification_id: 'n',
    };
    const all = Promise.all([submitAll(d, events), d.profiles.deliver([profileRecord()]), d.deletions.deliver([del])]);
    while (refusals.length < 6) await new Promise((r) => setTimeout(r, 10));
    expect(d.caller.systemicStatus).toBe(401);
    expect(recoveries).toBe(0);
    h.klaviyo.responder = defaultResponder;
    const [ev, prof, dels] = await all;
    expect([...ev, ...prof, ...dels].map((r) => r.status)).toEqual(Array(7).fill('delivered'));
    expect(new Set(refusals)).toEqual(new Set([401]));
    expect(recoveries).toBe(1);
    expect(d.caller.systemicStatus).toBeNull();
    expect(errorLines).toHaveLength(1); // once per spell, not once per request
    expect(errorLines[0]).toMatch(/Klaviyo refuses the API key \(401 authentication_failed/);
    expect(errorLines.join('\n')).not.toContain(KEY);
  });

  it('a 403 (a key without the scope) is systemic too', async () => {
    const refusals: number[] = [];
    h.klaviyo.next(klaviyoError(403, 'permission_denied', 'You do not have permission.'));
    const results = await submitAll(h.delivery({ onSystemic: (s) => refusals.push(s) }), [eventRecord()]);
    expect(results.map((r) => r.status)).toEqual(['delivered']);
    expect(refusals).toEqual([403]);
  });

  it('reports every HTTP attempt to onResponse with its status (or network) and duration, retries included', async () => {
    const clock = new ManualClock();
    const answers: Array<() => Promise<KlaviyoResponse<undefined>>> = [
      async () => {
        throw new KlaviyoApiError({ status: 503, code: 'error', detail: 'busy' });
      },
      async () => {
        throw new KlaviyoApiError({ status: null, code: 'network_error', detail: 'ECONNRESET' });
      },
      async () => ({ status: 202, body: undefined, rateLimit: {} }),
      async () => {
        throw new KlaviyoApiError({ status: 400, code: 'invalid', detail: 'bad' });
      },
    ];
    const seen: Array<[string, number | 'network', number]> = [];
    const caller = new KlaviyoCaller({
      client: {
        request: async () => {
          await clock.sleep(250); // Klaviyo takes 250 ms to answer each attempt
          return answers.shift()!() as never;
        },
      },
      clock,
      budget: new RateBudget({ clock }),
      retry: { random: () => 0.5 },
      onResponse: (operation, status, seconds) => void seen.push([operation, status, seconds]),
    });
    const sent = caller.send({ group: 'events-bulk', priority: 'live', path: '/api/event-bulk-create-jobs', body: {} });
    for (let i = 0; i < 20 && seen.length < 3; i++) await clock.advance(1000);
    await expect(sent).resolves.toMatchObject({ status: 202 });
    const one = caller.deliverOne({ group: 'events', priority: 'live', path: '/api/events', body: {} });
    for (let i = 0; i < 5 && seen.length < 4; i++) await clock.advance(1000);
    await expect(one).resolves.toMatchObject({ status: 'rejected' });
    expect(seen).toEqual([
      ['POST /api/event-bulk-create-jobs', 503, 0.25],
      ['POST /api/event-bulk-create-jobs', 'network', 0.25],
      ['POST /api/event-bulk-create-jobs', 202, 0.25],
      ['POST /api/events', 400, 0.25],
    ]);
  });
});
