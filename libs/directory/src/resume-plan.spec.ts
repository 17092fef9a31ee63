import { resumePlan } from './resume-plan';

const topic = [
  { partition: 0, low: '0', high: '10' },
  { partition: 1, low: '5', high: '8' },
  { partition: 2, low: '0', high: '0' },
];

describe('resumePlan', () => {
  it('resumes from the stored offsets, and from the start of a partition the store never read', () => {
    const plan = resumePlan(
      new Map([
        [0, 7n],
        [1, 8n],
      ]),
      topic,
    );
    expect(plan).toEqual({
      kind: 'resume',
      from: new Map([
        [0, 7n],
        [1, 8n],
        [2, 0n],
      ]),
    });
  });

  it('an empty store reads every partition from its first offset', () => {
    expect(resumePlan(new Map(), topic)).toEqual({
      kind: 'resume',
      from: new Map([
        [0, 0n],
        [1, 5n],
        [2, 0n],
      ]),
    });
  });

  it('rebuilds when records the store never saw are gone (offset below low)', () => {
    expect(resumePlan(new Map([[1, 4n]]), topic)).toMatchObject({
      kind: 'rebuild',
      why: expect.stringMatching(/partition 1.*below/),
    });
  });

  it('rebuilds when the store read further than the topic holds (a recreated topic)', () => {
    expect(resumePlan(new Map([[0, 11n]]), topic)).toMatchObject({
      kind: 'rebuild',
      why: expect.stringMatching(/partition 0.*past/),
    });
  });

  it('rebuilds when the store knows a partition the topic does not have', () => {
    expect(resumePlan(new Map([[3, 1n]]), topic)).toMatchObject({
      kind: 'rebuild',
      why: expect.stringMatching(/partition 3/),
    });
  });
});
