import { MinuteRing } from './minute-ring';

describe('MinuteRing', () => {
  it('sums the minutes of a window, drops what fell out of it, keeps its memory fixed', () => {
    const r = new MinuteRing(60);
    r.add(1000);
    r.add(1000);
    r.add(1030, 3);
    expect(r.sum(1000, 1000)).toBe(2);
    expect(r.sum(990, 1059)).toBe(5);
    r.add(1060); // the slot of minute 1000: minute 1000 falls out of the window
    expect(r.sum(1000, 1060)).toBe(4);
    r.add(1000); // older than the window behind the newest in its slot: dropped
    expect(r.sum(0, 1060)).toBe(4);
    expect(r.series(1060, 2, 30)).toEqual([3, 1]);
  });
});
