/**
 * Polling helpers for tests, benchmarks and tools (kafkajs' testHelpers style: wait for a
 * condition, don't sleep a guessed time). The one implementation; test/support re-exports it.
 */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/** Polls `fn` until it returns a truthy value (a throw counts as not yet); throws after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 50, what = 'condition' }: WaitOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

/** Like waitFor, but resolves false instead of throwing when the time is up. */
export async function waitUntil(fn: () => unknown, options: WaitOptions = {}): Promise<boolean> {
  return waitFor(fn, options).then(
    () => true,
    () => false,
  );
}

/** Waits until `url` answers GET with a status below 300 (each try gives up after 1 s). */
export async function waitHttp(
  url: string,
  { timeoutMs = 30_000, intervalMs = 200 }: Omit<WaitOptions, 'what'> = {},
): Promise<void> {
  await waitFor(async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).status < 300, {
    timeoutMs,
    intervalMs,
    what: `${url} to be ready`,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
