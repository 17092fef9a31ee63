import { countDoubled } from './chaos-measure';

const ev = (unique_id: string, profileId: string, metric = 'Rating Given') => ({ unique_id, metric, profileId });

describe('countDoubled', () => {
  it('one webhook whose event is stored twice is doubled, even for two profiles', () => {
    const r = countDoubled([ev('u1', 'p1'), ev('u1', 'p2')], [{ uniqueIds: ['u1'] }], new Set(['u1']));
    expect(r).toEqual({ doubled: 1, doubledIds: ['u1'] });
  });

  it('two webhooks mapping to one unique_id for two profiles keep one copy each (seed 30902)', () => {
    const accepted = [{ uniqueIds: ['u1'] }, { uniqueIds: ['u1'] }];
    expect(countDoubled([ev('u1', 'p1'), ev('u1', 'p2')], accepted, new Set(['u1'])).doubled).toBe(0);
  });

  it('two webhooks of one unique_id for the same profile allow one copy only (a re-sent notification)', () => {
    const accepted = [{ uniqueIds: ['u1'] }, { uniqueIds: ['u1'] }];
    expect(countDoubled([ev('u1', 'p1'), ev('u1', 'p1')], accepted, new Set(['u1'])).doubled).toBe(1);
  });

  it('a stored unique_id nobody expects is doubled', () => {
    expect(countDoubled([ev('u9', 'p1')], [{ uniqueIds: ['u1'] }], new Set(['u1']))).toEqual({
      doubled: 1,
      doubledIds: ['u9'],
    });
  });
});
