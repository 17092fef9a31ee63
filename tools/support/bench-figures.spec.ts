import { formatFigure, parseBenchOutput, parseFigureLines, parseLegacyLines } from './bench-figures';

describe('bench figures', () => {
  it('prints figure lines that parse back, NaN included', () => {
    const text = [
      formatFigure('p1.cpu_ms_per_event.ingest', 0.29512345, 'CPU-ms/event'),
      formatFigure('ratio.x', NaN, 'x'),
      'noise',
    ].join('\n');
    expect(text).toContain('figure p1.cpu_ms_per_event.ingest 0.295123 CPU-ms/event');
    expect(parseFigureLines(text)).toEqual([
      { name: 'p1.cpu_ms_per_event.ingest', value: 0.295123, unit: 'CPU-ms/event' },
      { name: 'ratio.x', value: NaN, unit: 'x' },
    ]);
    expect(() => formatFigure('has space', 1, 'x')).toThrow(/no spaces/);
  });

  it('reads the older plain lines: padded labels under headings and "label: value" lines', () => {
    const out = [
      '== phase 1: 3,000 webhooks',
      `${'webhooks/s accepted'.padEnd(52)} 1,536 /s  (5.6 s)`,
      `${'latency webhook → Klaviyo (closed loop)'.padEnd(52)} p50 853 ms, p90 1,195 ms, p99 1,375 ms, max 1,467 ms (2,700 matched)`,
      '   a note with 12 numbers is not a figure',
      'ingest (Kafka acks=all), 64 in flight: 20000 acknowledged, 0 failed, 2718 webhooks/s, p50 12.50 ms, p99 30.00 ms, max 41.00 ms',
    ].join('\n');
    const byName = new Map(parseLegacyLines(out).map((f) => [f.name, f]));
    expect(byName.get('phase_1_3_000_webhooks.webhooks/s_accepted')).toMatchObject({ value: 1536 });
    expect(byName.get('phase_1_3_000_webhooks.latency_webhook_klaviyo_closed_loop.p99')).toMatchObject({
      value: 1375,
      unit: 'ms',
    });
    expect(byName.get('phase_1_3_000_webhooks.latency_webhook_klaviyo_closed_loop.max')).toMatchObject({ value: 1467 });
    const ingest = 'phase_1_3_000_webhooks.ingest_kafka_acks_all_64_in_flight';
    expect(byName.get(`${ingest}.webhooks/s`)).toMatchObject({ value: 2718 });
    expect(byName.get(`${ingest}.p50`)).toMatchObject({ value: 12.5, unit: 'ms' });
    expect([...byName.keys()].some((k) => k.includes('note'))).toBe(false);
  });

  it('prefers figure lines when a bench prints them', () => {
    const out = `${'events delivered'.padEnd(52)} 2,700/2,700\nfigure p1.events_per_s 433.7 events/s\n`;
    expect(parseBenchOutput(out)).toEqual({
      source: 'figure-lines',
      figures: [{ name: 'p1.events_per_s', value: 433.7, unit: 'events/s' }],
    });
    expect(parseBenchOutput(`${'events delivered'.padEnd(52)} 2,700/2,700\n`).source).toBe('legacy-lines');
  });
});
