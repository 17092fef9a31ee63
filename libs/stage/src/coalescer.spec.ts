import { Coalescer } from './coalescer';

describe('Coalescer (one flush for what comes in during one turn)', () => {
  it('joins the items of one turn into one flush, in order, and starts a new one in the next turn', async () => {
    const flushes: number[][] = [];
    const c = new Coalescer<number>(async (items) => void flushes.push(items));
    const a = c.add([1, 2]);
    const b = c.add([3]);
    await Promise.all([a, b]);
    await c.add([4]);
    expect(flushes).toEqual([[1, 2, 3], [4]]);
  });

  it("rejects every caller of a flush that fails, and the next turn's callers get their own flush", async () => {
    let fail = true;
    const c = new Coalescer<string>(async () => {
      if (fail) throw new Error('broker down');
    });
    const both = [c.add(['a']), c.add(['b'])];
    await expect(both[0]).rejects.toThrow('broker down');
    await expect(both[1]).rejects.toThrow('broker down');
    fail = false;
    await expect(c.add(['c'])).resolves.toBeUndefined();
  });

  it('answers an empty call at once, without a flush', async () => {
    const flush = jest.fn(async () => undefined);
    await new Coalescer<number>(flush).add([]);
    expect(flush).not.toHaveBeenCalled();
  });
});
