import { Logger } from '@nestjs/common';
import { MinuteRing } from './minute-ring';

const MINUTE = 60_000;

/** Sums of the series of one metric in Prometheus text, filtered by a label matcher. */
export function sumSeries(text: string, metric: string, labels: RegExp = /.*/): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric || !labels.test(m[2] ?? '')) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) n += v;
  }
  return n;
}

interface Scraped {
  throttled: number;
  retries: number;
}

/**
 * Klaviyo's 429s and the sink's request retries per minute, from the sinks' /metrics
 * (`iks_sink_klaviyo_request_seconds_count{status="429"}`, `iks_sink_klaviyo_retries_total`):
 * the sink retries those inside one delivery, so no outcome records them. Scraped every
 * `everyMs`; each scrape's increase goes to the minute it was seen in (a counter that went
 * down is a restarted sink: its value is the increase). Since the console started only.
 */
export class SinkThrottling {
  private readonly logger = new Logger(SinkThrottling.name);
  readonly throttledPerMinute = new MinuteRing(120);
  readonly retriesPerMinute = new MinuteRing(120);
  private readonly last = new Map<string, Scraped>();
  readonly errors = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly urls: readonly string[],
    private readonly everyMs = 15_000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    void this.scrape();
    this.timer = setInterval(() => void this.scrape(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async scrape(): Promise<void> {
    await Promise.all(
      this.urls.map(async (url) => {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
          if (!res.ok) throw new Error(`answered ${res.status}`);
          this.record(url, await res.text());
          this.errors.delete(url);
        } catch (e) {
          if (!this.errors.has(url)) this.logger.warn(`cannot scrape ${url}: ${(e as Error).message}`);
          this.errors.set(url, (e as Error).message);
        }
      }),
    );
  }

  record(url: string, text: string): void {
    const now: Scraped = {
      throttled: sumSeries(text, 'iks_sink_klaviyo_request_seconds_count', /status="429"/),
      retries: sumSeries(text, 'iks_sink_klaviyo_retries_total'),
    };
    const before = this.last.get(url);
    this.last.set(url, now);
    if (!before) return; // the first scrape is the baseline
    const minute = Math.floor(this.now() / MINUTE);
    const inc = (a: number, b: number) => (a >= b ? a - b : a);
    this.throttledPerMinute.add(minute, inc(now.throttled, before.throttled));
    this.retriesPerMinute.add(minute, inc(now.retries, before.retries));
  }
}
