import { ManualClock } from './clock';
import { backoffCeiling, jittered, retry } from './retry';
import { isRetriableStatus } from './retriable-status';

class Flaky extends Error {
  constructor(
    readonly retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(retriable ? 'transient' : 'permanent');
  }
}

describe('retry', () => {
  it('backs off exponentially with full jitter, capped at maxMs', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    const done = retry(
      async () => {
        if (++calls < 6) throw new Flaky(true);
        return 'ok';
      },
      {
        clock,
        random: () => 0.5,
        initialMs: 100,
        maxMs: 1000,
        factor: 2,
        retries: 10,
        onRetry: (i) => delays.push(i.delayMs),
      },
    );
    await clock.runAll();
    await expect(done).resolves.toBe('ok');
    // ceilings 100, 200, 400, 800, 1000 (capped); full jitter at random()=0.5 halves them
    expect(delays).toEqual([50, 100, 200, 400, 500]);
    expect(clock.now()).toBe(1250);
  });

  it('full jitter spans [0, ceiling]; partial jitter keeps a floor', () => {
    expect(jittered(1000, 'full', () => 0)).toBe(0);
    expect(jittered(1000, 'full', () => 0.999)).toBe(999);
    expect(jittered(1000, 0.2, () => 0)).toBe(800);
    expect(jittered(1000, 'none', () => 0)).toBe(1000);
    expect(backoffCeiling(1)).toBe(300);
    expect(backoffCeiling(20)).toBe(30_000);
  });

  it('does not retry a non-retriable error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Flaky(false);
        },
        { clock: new ManualClock() },
      ),
    ).rejects.toThrow('permanent');
    expect(calls).toBe(1);
  });

  it('honours retryAfterMs instead of the computed backoff', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    const done = retry(
      async () => {
        if (++calls === 1) throw new Flaky(true, 7000);
        return calls;
      },
      { clock, random: () => 0, onRetry: (i) => delays.push(i.delayMs) },
    );
    await clock.advance(6999);
    expect(calls).toBe(1);
    await clock.advance(1);
    await expect(done).resolves.toBe(2);
    expect(delays).toEqual([7000]);
  });

  it('gives up after `retries` and throws the last error', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const done = retry(
      async () => {
        calls++;
        throw new Flaky(true);
      },
      { clock, retries: 3, random: () => 1 },
    );
    const settled = done.catch((e) => e);
    await clock.runAll();
    expect(await settled).toBeInstanceOf(Flaky);
    expect(calls).toBe(4);
  });

  it('gives up when the next wait would pass maxElapsedMs', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const done = retry(
      async () => {
        calls++;
        throw new Flaky(true);
      },
      { clock, maxElapsedMs: 10_000, initialMs: 1000, maxMs: 4000, jitter: 'none' },
    );
    const settled = done.catch((e) => e);
    await clock.runAll();
    expect(await settled).toBeInstanceOf(Flaky);
    // waits 1000, 2000, 4000 (t=7000); the next 4000 would end at 11000 > 10000
    expect(calls).toBe(4);
    expect(clock.now()).toBe(7000);
  });

  it('stops waiting when the signal aborts', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const done = retry(
      async () => {
        throw new Flaky(true);
      },
      { clock, signal: ac.signal, retries: 100 },
    ).catch((e) => e);
    await clock.settle();
    ac.abort(new Error('shutdown'));
    expect(((await done) as Error).message).toBe('shutdown');
  });
});

describe('retry elapsed budget', () => {
  it('counts maxElapsedMs from the first failure, not from the first call', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const done = retry(
      async () => {
        calls++;
        if (calls === 1) await clock.sleep(60_000); // e.g. queued behind a rate budget
        throw new Flaky(true);
      },
      { clock, maxElapsedMs: 1000, initialMs: 400, jitter: 'none', factor: 1 },
    ).catch((e) => e);
    await clock.runAll();
    expect(await done).toBeInstanceOf(Flaky);
    // fails at 60 000, then waits 400 twice (elapsed 800); a third wait would reach 1200
    expect(calls).toBe(3);
  });
});

describe('retry delay cap (issue #14: slow 5xx recovery)', () => {
  it('never waits longer than maxDelayMs, whatever the backoff or a Retry-After asks', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    let recovered = false;
    const done = retry(
      async () => {
        calls++;
        if (!recovered) throw new Flaky(true, calls === 20 ? 300_000 : undefined); // one 503 asks for 5 min
        return 'ok';
      },
      {
        clock,
        maxElapsedMs: 6 * 3600_000,
        initialMs: 1000,
        maxMs: 5 * 60_000,
        maxDelayMs: 30_000,
        random: () => 0.999,
        onRetry: (i) => delays.push(i.delayMs),
      },
    );
    // 40 failures within 100 min: uncapped, the ceilings reach 5 min and 40 attempts take ~160 min
    for (let i = 0; i < 200 && calls < 40; i++) await clock.advance(30_000);
    expect(calls).toBe(40);
    recovered = true;
    const at = clock.now();
    await clock.advance(30_000);
    await expect(done).resolves.toBe('ok');
    expect(Math.max(...delays)).toBeLessThanOrEqual(30_000);
    expect(clock.now() - at).toBeLessThanOrEqual(30_000);
  });
});

describe('retry after a server-mandated wait (issue #21: the 429-storm test)', () => {
  it('a Retry-After wait does not grow the backoff: three 429s then three 500s back off from initialMs', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    const done = retry(
      async () => {
        calls++;
        if (calls <= 3) throw new Flaky(true, 1000); // 429, Retry-After: 1
        if (calls <= 6) throw new Flaky(true); // 500
        return 'ok';
      },
      {
        clock,
        maxElapsedMs: 6 * 3600_000,
        initialMs: 1000,
        maxDelayMs: 30_000,
        jitter: 'none',
        onRetry: (i) => delays.push(i.delayMs),
      },
    );
    await clock.runAll();
    await expect(done).resolves.toBe('ok');
    // before: the 500s waited 8 s, 16 s and 30 s (capped), as if they were the 4th to 6th backoff
    expect(delays).toEqual([1000, 1000, 1000, 1000, 2000, 4000]);
    expect(clock.now()).toBe(10_000);
  });

  it('computed waits between mandated ones keep growing', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    const done = retry(
      async () => {
        calls++;
        if (calls <= 4) throw new Flaky(true, calls % 2 === 0 ? 500 : undefined); // 500, 429, 500, 429
        return 'ok';
      },
      { clock, retries: 10, initialMs: 100, jitter: 'none', onRetry: (i) => delays.push(i.delayMs) },
    );
    await clock.runAll();
    await expect(done).resolves.toBe('ok');
    expect(delays).toEqual([100, 500, 200, 500]);
  });
});

describe('isRetriableStatus', () => {
  it('408, 429, 5xx and no answer are retried; other 4xx and 501 Not Implemented are not', () => {
    for (const s of [null, 408, 429, 500, 502, 503, 504]) expect(isRetriableStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 409, 422, 501]) expect(isRetriableStatus(s)).toBe(false);
  });
});
