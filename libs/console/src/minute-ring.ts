/**
 * Counts per minute over a fixed window (a ring of minute slots, each stamped with its minute), so
 * memory is fixed and a sum over the last hour, day or week touches at most that many slots.
 * A count for a minute older than the window behind the newest seen is dropped.
 */
export class MinuteRing {
  private readonly counts: Float64Array;
  private readonly stamps: Float64Array;

  constructor(readonly minutes: number) {
    this.counts = new Float64Array(minutes);
    this.stamps = new Float64Array(minutes).fill(-1);
  }

  add(minute: number, n = 1): void {
    const i = minute % this.minutes;
    const stamp = this.stamps[i];
    if (stamp === minute) this.counts[i] += n;
    else if (stamp < minute) {
      this.stamps[i] = minute;
      this.counts[i] = n;
    }
  }

  /** Sum over [from, to] (unix minutes). */
  sum(from: number, to: number): number {
    let n = 0;
    for (let m = Math.max(from, to - this.minutes + 1); m <= to; m++) {
      const i = m % this.minutes;
      if (this.stamps[i] === m) n += this.counts[i];
    }
    return n;
  }

  /** `buckets` sums of `bucketMinutes` each, the last ending at minute `to`, oldest first. */
  series(to: number, buckets: number, bucketMinutes: number): number[] {
    const out = new Array<number>(buckets);
    const first = to - buckets * bucketMinutes + 1;
    for (let b = 0; b < buckets; b++) out[b] = this.sum(first + b * bucketMinutes, first + (b + 1) * bucketMinutes - 1);
    return out;
  }
}
