import { callersOf, categoryOf, formatSummary, frameKey, summarise, type CpuProfile } from './cpuprofile-summary';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

/**
 * root ─ handler (ours) ─ kafkajs send ─ native writev
 *      └ (garbage collector)
 *      └ (idle)
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
    { id: 2, callFrame: frame('handle', 'file:///x/dist/apps/ingest/src/webhook.controller.js', 9), children: [3] },
    { id: 3, callFrame: frame('send', 'file:///x/node_modules/kafkajs/src/producer/index.js', 99), children: [4] },
    { id: 4, callFrame: frame('writev') },
    { id: 5, callFrame: frame('(garbage collector)') },
    { id: 6, callFrame: frame('(idle)') },
  ],
  startTime: 0,
  endTime: 6000,
  // samples: handle, send, writev, writev, gc, idle; each 1,000 µs (timeDeltas[i + 1])
  samples: [2, 3, 4, 4, 5, 6],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000],
};

describe('cpuprofile summary', () => {
  it('tells our code, packages, node internals and V8 frames apart', () => {
    expect(categoryOf(frame('f', 'file:///w/dist/libs/kafka/src/a.js'))).toBe('ours');
    expect(categoryOf(frame('f', 'file:///w/node_modules/@nestjs/core/router/x.js'))).toBe('lib:@nestjs/core');
    expect(categoryOf(frame('f', 'node:internal/buffer'))).toBe('node');
    expect(categoryOf(frame('(garbage collector)'))).toBe('gc');
    expect(categoryOf(frame('JSON.parse'))).toBe('native');
    expect(frameKey(frame('send', 'file:///w/node_modules/kafkajs/src/producer/index.js', 9))).toBe(
      'send kafkajs/src/producer/index.js:10',
    );
    expect(frameKey(frame('handle', 'file:///w/dist/apps/ingest/src/a.js', 0))).toBe('handle apps/ingest/src/a.js:1');
  });

  it('sums self and inclusive time per function, leaves idle out, charges natives to their caller', () => {
    const s = summarise(profile);
    expect(s.busyUs).toBe(5000);
    expect(s.idleUs).toBe(1000); // the last sample gets the mean (6,000 / 6)
    const fn = (k: string) => s.functions.find((f) => f.key.startsWith(k))!;
    expect(fn('handle')).toMatchObject({ category: 'ours', selfUs: 1000, totalUs: 4000 });
    expect(fn('send')).toMatchObject({ category: 'lib:kafkajs', selfUs: 1000, totalUs: 3000 });
    expect(fn('writev')).toMatchObject({ category: 'native', selfUs: 2000, totalUs: 2000 });
    expect(s.selfByCategory.get('native')).toBe(2000);
    // writev is kafkajs's cost
    expect(s.attributed.get('lib:kafkajs')).toBe(3000);
    expect(s.attributed.get('ours')).toBe(1000);
    expect(s.attributed.get('gc')).toBe(1000);
    expect(formatSummary('p', s, { top: 3, events: 10 })).toContain('0.500 busy ms per event');
  });

  it('lists the call paths into a function', () => {
    expect(callersOf(profile, 'writev')).toEqual([
      {
        path: ['writev', 'send kafkajs/src/producer/index.js:100', 'handle apps/ingest/src/webhook.controller.js:10'],
        us: 2000,
      },
    ]);
  });
});
