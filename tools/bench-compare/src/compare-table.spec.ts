import { compareRuns, fmtValue, formatTable, median, roundOrder, type Run } from './compare-table';

const fig = (name: string, value: number, unit = 'x') => ({ name, value, unit });

describe('bench:compare table', () => {
  it('medians ignore missing values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, NaN, 2, 3])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
  });

  it('alternates which side runs first (ABBA)', () => {
    expect([1, 2, 3, 4].map(roundOrder)).toEqual([
      ['ref', 'current'],
      ['current', 'ref'],
      ['ref', 'current'],
      ['current', 'ref'],
    ]);
  });

  it('puts every run of both sides in one row per figure, with medians and current/ref', () => {
    const runs: Run[] = [
      { side: 'ref', round: 1, ok: true, figures: [fig('p1.cpu', 0.5, 'CPU-ms/event'), fig('old.only', 7)] },
      { side: 'current', round: 1, ok: true, figures: [fig('p1.cpu', 0.3, 'CPU-ms/event'), fig('new.only', 1)] },
      { side: 'current', round: 2, ok: true, figures: [fig('p1.cpu', 0.25, 'CPU-ms/event')] },
      { side: 'ref', round: 2, ok: true, figures: [fig('p1.cpu', 0.7, 'CPU-ms/event')] },
    ];
    const rows = compareRuns(runs);
    expect(rows.map((r) => r.name)).toEqual(['p1.cpu', 'new.only', 'old.only']);
    expect(rows[0]).toMatchObject({
      ref: [0.5, 0.7],
      current: [0.3, 0.25],
      refMedian: 0.6,
      currentMedian: 0.275,
      unit: 'CPU-ms/event',
    });
    expect(rows[0].ratio).toBeCloseTo(0.275 / 0.6);
    expect(rows[1]).toMatchObject({ ref: [NaN, NaN], current: [1, NaN] });
    expect(rows[1].ratio).toBeNaN();
    expect(compareRuns(runs, /^p1\./).map((r) => r.name)).toEqual(['p1.cpu']);
    const text = formatTable(rows, { ref: 'ref main', current: 'current' });
    expect(text.split('\n')[1]).toMatch(
      /^p1\.cpu\s+0\.500 \/ 0\.700\s+0\.300 \/ 0\.250\s+0\.600\s+0\.275\s+0\.458\s+CPU-ms\/event$/,
    );
    expect(text).toContain('–');
  });

  it('formats values to about four significant digits', () => {
    expect(fmtValue(12345.6)).toBe('12,346');
    expect(fmtValue(123.45)).toBe('123.5');
    expect(fmtValue(0.0012345)).toBe('0.00123');
    expect(fmtValue(NaN)).toBe('–');
  });
});
