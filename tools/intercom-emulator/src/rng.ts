/**
 * Seeded PRNG (mulberry32): the same seed gives the same dataset on every run and machine.
 * Math.random is never used for anything that ends up in a dataset.
 */
export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** integer in [min, max] */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  hex(length: number): string;
  /** a subset of `items`, in their original order */
  subset<T>(items: readonly T[], maxSize: number): T[];
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)];
    },
    chance: (p: number) => next() < p,
    hex: (length: number) => {
      let s = '';
      while (s.length < length) s += int(0, 15).toString(16);
      return s;
    },
    subset: <T>(items: readonly T[], maxSize: number): T[] => {
      const size = int(0, Math.min(maxSize, items.length));
      const chosen = new Set<number>();
      while (chosen.size < size) chosen.add(int(0, items.length - 1));
      return items.filter((_, i) => chosen.has(i));
    },
  };
}
