import { Logger } from '@nestjs/common';
import { ManualClock } from '@iks/retry';
import { AccountCircuit, AccountUnavailableError } from './account-circuit';
import { KlaviyoApiError } from './klaviyo-api.error';
import { KlaviyoCaller } from './klaviyo-caller';
import { RateBudget } from './rate-budget';
import { KlaviyoProfileDeliverer } from './profile-deliverer';
import { profileRecord } from './__tests__/fixtures';

const failure = (status: number | null, retryAfterMs?: number) => ({
  status,
  code: status === null ? 'network_error' : `http_${status}`,
  retriable: status === null || status === 429 || status >= 500,
  retryAfterMs,
});

describe('AccountCircuit', () => {
  it('opens at once on a refused key, lets one probe through when due, and closes on its success', () => {
    const clock = new ManualClock(1000);
    const c = new AccountCircuit({ clock, probeInitialMs: 2000 });
    expect(c.admit()).toBe(true);
    expect(c.failed(failure(401))).toBe(true);
    expect(c.state).toBe('open');
    expect(c.reason).toMatch(/refuses the credential \(401/);
    expect(c.signal.aborted).toBe(true);
    expect(c.signal.reason).toBeInstanceOf(AccountUnavailableError);
    expect(c.admit()).toBe(false);
    expect(c.beginProbe()).toBe(false); // not due yet
    clock.now = () => 3000;
    expect(c.probeDue()).toBe(true);
    expect(c.beginProbe()).toBe(true);
    expect(c.beginProbe()).toBe(false); // one probe at a time
    expect(c.state).toBe('half_open');
    expect(c.signal.aborted).toBe(false);
    expect(c.admit()).toBe(true);
    expect(c.admit()).toBe(false); // exactly one request
    c.succeeded();
    expect(c.state).toBe('closed');
    expect(c.reason).toBeNull();
    expect(c.admit()).toBe(true);
  });

  it('opens on retriable failures only once they last tripAfterMs without a success', () => {
    let now = 0;
    const c = new AccountCircuit({ clock: { now: () => now, sleep: async () => undefined }, tripAfterMs: 10_000 });
    expect(c.failed(failure(503))).toBe(false);
    now = 9_000;
    expect(c.failed(failure(500))).toBe(false);
    c.succeeded(); // the streak ends
    now = 15_000;
    expect(c.failed(failure(429))).toBe(false);
    now = 24_999;
    expect(c.failed(failure(null))).toBe(false);
    now = 25_000;
    expect(c.failed(failure(429))).toBe(true);
    expect(c.reason).toMatch(/429.*failing for 10 s/);
    // a 400 is the record's fault: never the account's
    const d = new AccountCircuit({ tripAfterMs: 0 });
    expect(d.failed({ status: 400, code: 'invalid', retriable: false })).toBe(false);
    expect(d.state).toBe('closed');
  });

  it('opens at once on a 429 whose Retry-After reaches past the trip time, not on a shorter one', () => {
    let now = 0;
    const c = new AccountCircuit({ clock: { now: () => now, sleep: async () => undefined }, tripAfterMs: 10_000 });
    expect(c.failed(failure(429, 1000))).toBe(false);
    now = 8_000;
    expect(c.failed(failure(429, 1500))).toBe(false); // 9.5 s of streak at most
    now = 8_500;
    expect(c.failed(failure(429, 2000))).toBe(true); // 10.5 s
    expect(c.reason).toMatch(/429.*Retry-After 2 s/);
    expect(c.retryAt).toBe(8_500 + 2000);
    // a storm announcing a minute opens a fresh circuit on its first 429, the probe after the Retry-After (capped)
    const d = new AccountCircuit({ clock: { now: () => now, sleep: async () => undefined }, tripAfterMs: 10_000 });
    expect(d.failed(failure(429, 60_000))).toBe(true);
    expect(d.retryAt).toBe(now + 30_000);
  });

  it('a failed probe opens it again for twice the wait (capped), and a Retry-After is waited out', () => {
    let now = 0;
    const c = new AccountCircuit({
      clock: { now: () => now, sleep: async () => undefined },
      probeInitialMs: 1000,
      probeMaxMs: 3000,
    });
    c.failed(failure(403));
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      now = c.retryAt;
      expect(c.beginProbe()).toBe(true);
      expect(c.failed(failure(500))).toBe(true);
      waits.push(c.retryAt - now);
    }
    expect(waits).toEqual([2000, 3000, 3000, 3000]);
    now = c.retryAt;
    c.beginProbe();
    c.failed(failure(429, 2500));
    expect(c.retryAt - now).toBe(3000);
    expect(c.trips).toBe(6);
    expect(c.since).toBe(0);
  });
});

describe('KlaviyoCaller with an AccountCircuit', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('a 401 opens the circuit and gives up at once (no retry in place); later requests are not sent', async () => {
    const clock = new ManualClock();
    const circuit = new AccountCircuit({ clock });
    let calls = 0;
    const caller = new KlaviyoCaller({
      client: {
        request: async () => {
          calls++;
          throw new KlaviyoApiError({ status: 401, code: 'not_authenticated', detail: 'bad key' });
        },
      },
      clock,
      budget: new RateBudget({ clock }),
      circuit,
    });
    const req = { group: 'profile-import', priority: 'live', path: '/api/profile-import', body: {} } as const;
    await expect(caller.send(req)).rejects.toBeInstanceOf(AccountUnavailableError);
    expect(await caller.deliverOne(req)).toEqual({ status: 'unavailable', reason: expect.stringMatching(/401/) });
    expect(calls).toBe(1);
    expect(caller.unavailable).toMatch(/401/);
  });

  it('a request retrying 5xx gives up when the streak trips the circuit, and a probe closes it again', async () => {
    const clock = new ManualClock();
    const circuit = new AccountCircuit({ clock, tripAfterMs: 5000, probeInitialMs: 1000 });
    let up = false;
    let calls = 0;
    const caller = new KlaviyoCaller({
      client: {
        request: async () => {
          calls++;
          if (!up) throw new KlaviyoApiError({ status: 503, code: 'unavailable', detail: 'down' });
          return { status: 202, body: undefined, rateLimit: {} };
        },
      },
      clock,
      budget: new RateBudget({ clock }),
      retry: { initialMs: 1000, maxDelayMs: 1000, jitter: 'none' },
      circuit,
    });
    const req = { group: 'events-bulk', priority: 'live', path: '/api/event-bulk-create-jobs', body: {} } as const;
    const first = caller.deliverOne(req);
    for (let i = 0; i < 10 && circuit.state === 'closed'; i++) await clock.advance(1000);
    expect(await first).toMatchObject({ status: 'unavailable' });
    expect(circuit.state).toBe('open');
    const sent = calls;
    expect(sent).toBeGreaterThanOrEqual(5);
    up = true;
    await clock.advance(1000);
    expect(circuit.beginProbe()).toBe(true);
    expect(await caller.deliverOne(req)).toEqual({ status: 'delivered' });
    expect(calls).toBe(sent + 1);
    expect(circuit.state).toBe('closed');
  });

  it("one contact's upserts after one that could not go are held with it (never sent ahead)", async () => {
    const circuit = new AccountCircuit();
    const sent: string[] = [];
    const caller = new KlaviyoCaller({
      client: {
        request: async (_m: string, _p: string, body: unknown) => {
          const email = (body as { data: { attributes: { email: string } } }).data.attributes.email;
          sent.push(email);
          if (sent.length === 1) throw new KlaviyoApiError({ status: 401, code: 'not_authenticated', detail: 'x' });
          return { status: 200, body: undefined, rateLimit: {} };
        },
      } as never,
      circuit,
    });
    const a1 = profileRecord({ intercom_contact_id: 'a', email: 'a1@example.com' });
    const a2 = profileRecord({ intercom_contact_id: 'a', email: 'a2@example.com' });
    // the circuit closes again between the two (another consumer's probe succeeded): a2 still waits for a1
    const results = await new KlaviyoProfileDeliverer(
      {
        deliverOne: async (req: Parameters<KlaviyoCaller['deliverOne']>[0]) => {
          const r = await caller.deliverOne(req);
          circuit.succeeded();
          return r;
        },
      } as unknown as KlaviyoCaller,
      1,
    ).deliver([a1, a2]);
    expect(results.map((r) => r.status)).toEqual(['unavailable', 'unavailable']);
    expect(sent).toEqual(['a1@example.com']);
  });
});
