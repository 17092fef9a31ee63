/**
 * Intercom's side of the chaos rig, in a child process of its own (the rig forks it): it posts
 * signed webhooks to ingest and re-sends them as Intercom does, and probes ingest's readiness
 * while it posts. The rig's own process also answers as Klaviyo; under load that work stalled its
 * event loop for seconds, and a stalled poster reads its 5 s timeout before the answer that is
 * already in its socket: a "no answer" ingest never gave. Here nothing else runs on the loop.
 *
 * Messages in (from the rig): `PostRequest` and `{ type: 'stop' }`. Messages out: one `TryAnswer`
 * per try, then one `PostDone` per request.
 */
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface PostRequest {
  readonly type: 'post';
  readonly batch: number;
  readonly url: string;
  readonly hooks: ReadonlyArray<{ readonly body: string; readonly signature: string }>;
  readonly perSecond: number;
  /**
   * Closed loop instead: at most this many webhooks in flight (each with its re-sends), the next
   * one sent when one is done; the rate then follows what ingest can take, so a loaded machine
   * slows the run down instead of piling up timeouts and re-sends. `giveUpMs` counts from each
   * webhook's first try.
   */
  readonly concurrency?: number;
  readonly giveUpMs: number;
  /** Closed loop: no try starts after this long from the batch's start (ingest down for good must not hold the run for hours). */
  readonly totalMs?: number;
  /** Probed every 250 ms while the batch is posted (200 within 2 s = ready). */
  readonly probeUrl?: string;
}

/** One try of webhook `i` of a batch: its status, or why there was none (`timeout`, the socket's error). */
export interface TryAnswer {
  readonly type: 'answer';
  readonly batch: number;
  readonly i: number;
  readonly answer: number | string;
}

export interface PostDone {
  readonly type: 'done';
  readonly batch: number;
  readonly probes: number;
  /** Probes answered, but not 200 (ingest says it is not ready: 503 names the check that is down). */
  readonly notReady: number;
  /** Probes without an answer within 2 s. */
  readonly slow: number;
  /** The longest stretch (ms) from a probe without a 200 to the next 200 (or the end of posting). */
  readonly longestRedMs: number;
  /** This process's event-loop delay while it posted (ms). */
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
}

export type PosterMessage = TryAnswer | PostDone;

/** Intercom waits this long for an answer. */
const TIMEOUT_MS = 5000;

let stopping = false;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** One keep-alive pool for every try (as a sender's HTTP client would keep one). */
const agent = new Agent({ keepAlive: true });

/**
 * The status, or why there was none (`timeout`, or the socket error's code). node:http, not
 * fetch: a fetch costs several times the CPU, and on a loaded machine the poster's own work was
 * what delayed its reading of answers past the timeout.
 */
export function postOnce(
  url: string,
  body: string,
  signature: string,
  timeoutMs = TIMEOUT_MS,
): Promise<number | string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: number | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-hub-signature': signature,
          'user-agent': 'intercom-webhooks',
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.on('end', () => done(status));
        res.on('error', () => done(status));
        res.resume();
      },
    );
    const timer = setTimeout(() => {
      done('timeout');
      req.destroy();
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    req.end(body);
  });
}

/** Final: a 2xx or a 4xx other than 429 (Intercom re-sends after a 5xx, a 429 or no answer). */
export function isFinal(answer: number | string): boolean {
  return typeof answer === 'number' && answer >= 200 && answer < 500 && answer !== 429;
}

/** 200, another status, or no answer within 2 s (`timeout`, or the socket error's code). */
function ready(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

async function post(req: PostRequest, send: (m: PosterMessage) => void): Promise<void> {
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  let probing = Boolean(req.probeUrl);
  let probes = 0;
  let notReady = 0;
  let slow = 0;
  let redSince: number | null = null;
  let longestRedMs = 0;
  const probe = (async () => {
    for (; probing; await sleep(250), probes++) {
      const asked = Date.now();
      const answer = await ready(req.probeUrl!);
      if (answer === 200) {
        if (redSince !== null) longestRedMs = Math.max(longestRedMs, Date.now() - redSince);
        redSince = null;
        continue;
      }
      if (typeof answer === 'number') notReady++;
      else slow++;
      redSince ??= asked;
    }
    if (redSince !== null) longestRedMs = Math.max(longestRedMs, Date.now() - redSince);
  })();
  const started = Date.now();
  const closeBy = started + (req.totalMs ?? Infinity);
  const deliver = async (i: number) => {
    const { body, signature } = req.hooks[i];
    const deadline = req.concurrency ? Math.min(Date.now() + req.giveUpMs, closeBy) : started + req.giveUpMs;
    for (let backoff = 250; ; backoff = Math.min(backoff * 2, 4000)) {
      const answer = await postOnce(req.url, body, signature);
      send({ type: 'answer', batch: req.batch, i, answer });
      if (isFinal(answer) || Date.now() > deadline || stopping) return;
      await sleep(backoff);
    }
  };
  const sends: Promise<void>[] = [];
  if (req.concurrency) {
    let next = 0;
    const worker = async () => {
      while (next < req.hooks.length && !stopping && Date.now() < closeBy) await deliver(next++);
    };
    for (let k = 0; k < req.concurrency; k++) sends.push(worker());
  } else {
    for (let i = 0; i < req.hooks.length && !stopping; i++) {
      const due = started + (i * 1000) / req.perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      sends.push(deliver(i));
    }
  }
  await Promise.all(sends);
  probing = false;
  await probe;
  lag.disable();
  send({
    type: 'done',
    batch: req.batch,
    probes,
    notReady,
    slow,
    longestRedMs,
    lagP99Ms: Math.round(lag.percentile(99) / 1e6),
    lagMaxMs: Math.round(lag.max / 1e6),
  });
}

if (require.main === module && process.send) {
  const send = (m: PosterMessage) => process.send!(m);
  process.on('message', (m: PostRequest | { type: 'stop' }) => {
    if (m.type === 'stop') {
      stopping = true;
      return;
    }
    void post(m, send);
  });
  process.on('disconnect', () => process.exit(0));
}
