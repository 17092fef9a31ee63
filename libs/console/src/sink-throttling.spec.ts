import { SinkThrottling, sumSeries } from './sink-throttling';

const metrics = (throttled: number, retries: number) =>
  [
    '# HELP iks_sink_klaviyo_request_seconds HTTP attempts to Klaviyo',
    `iks_sink_klaviyo_request_seconds_count{operation="POST /api/event-bulk-create-jobs",status="202",app="sink"} 40`,
    `iks_sink_klaviyo_request_seconds_count{operation="POST /api/event-bulk-create-jobs",status="429",app="sink"} ${throttled}`,
    `iks_sink_klaviyo_request_seconds_count{operation="POST /api/profile-import",status="429",app="sink"} 1`,
    `iks_sink_klaviyo_request_seconds_bucket{operation="POST /api/profile-import",status="429",app="sink",le="0.1"} 1`,
    `iks_sink_klaviyo_retries_total{operation="POST /api/event-bulk-create-jobs",app="sink"} ${retries}`,
  ].join('\n');

describe('SinkThrottling', () => {
  it('sums the 429 series of the request histogram, not its buckets', () => {
    expect(sumSeries(metrics(5, 0), 'iks_sink_klaviyo_request_seconds_count', /status="429"/)).toBe(6);
  });

  it("puts each scrape's increase in its minute, from the second scrape on, per sink; a restarted sink counts from zero", () => {
    let now = 60_000 * 1000;
    const t = new SinkThrottling(['a', 'b'], 15_000, () => now);
    t.record('a', metrics(5, 7));
    t.record('b', metrics(0, 0));
    expect(t.throttledPerMinute.sum(0, 2000)).toBe(0);
    t.record('a', metrics(8, 10));
    t.record('b', metrics(2, 1));
    now += 60_000;
    t.record('a', metrics(1, 2)); // restarted: 1 + 1 (profile) throttled, 2 retries since
    expect(t.throttledPerMinute.series(1001, 2, 1)).toEqual([3 + 2, 2]);
    expect(t.retriesPerMinute.series(1001, 2, 1)).toEqual([3 + 1, 2]);
  });
});
