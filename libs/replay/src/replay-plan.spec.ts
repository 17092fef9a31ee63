import { planLines, planPartitions, planTotal } from './replay-plan';

describe('replay plan', () => {
  const marks = [
    { partition: 1, low: 0n, high: 10n },
    { partition: 0, low: 5n, high: 20n },
    { partition: 2, low: 0n, high: 0n },
  ];

  it('covers the asked partitions from their start to the end captured now', () => {
    const { plan, notes } = planPartitions(
      marks,
      new Map([
        [0, 5n],
        [1, 0n],
        [2, 0n],
      ]),
      null,
    );
    expect(plan).toEqual([
      { partition: 0, from: 5n, to: 20n },
      { partition: 1, from: 0n, to: 10n },
      { partition: 2, from: 0n, to: 0n },
    ]);
    expect(planTotal(plan)).toBe(25n);
    expect(notes).toEqual([]);
  });

  it('clamps to what the log holds, leaves out partitions not asked for, and stops at --to-time ends', () => {
    const { plan, notes } = planPartitions(
      marks,
      new Map([
        [0, 2n],
        [1, 30n],
      ]),
      new Map([
        [0, 8n],
        [1, 10n],
      ]),
    );
    expect(plan).toEqual([
      { partition: 0, from: 5n, to: 8n },
      { partition: 1, from: 10n, to: 10n },
    ]);
    expect(notes.join('\n')).toMatch(/partition 0: offset 2 is no longer in the log/);
    expect(notes.join('\n')).toMatch(/partition 1: offset 30 is past the end/);
  });

  it('reads as the lines the CLI prints and the console shows', () => {
    const { plan, notes } = planPartitions(marks, new Map([[0, 2n]]), null);
    expect(
      planLines({ topic: 'klaviyo.events.v1', plan, notes, total: planTotal(plan), toTime: Date.UTC(2026, 0, 1) }),
    ).toEqual([
      'plan: topic klaviyo.events.v1, 1 partition(s), up to 2026-01-01T00:00:00.000Z',
      'plan: partition 0 from offset 5 to 20 (15 records)',
      'note: partition 0: offset 2 is no longer in the log; starting at the earliest, 5',
      'plan: 15 record(s) in total',
    ]);
  });
});
