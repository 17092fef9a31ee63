/**
 * Joins what callers hand in during one turn of the event loop into one call of `flush`, and
 * answers each caller with that call's result. The sink's slices of every partition settle
 * together when their shared bulk request answers: their outcomes go in one produce request and
 * their offsets in one commit instead of one of each per partition.
 */
export class Coalescer<T> {
  private pending: T[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly flush: (items: T[]) => Promise<void>) {}

  /** Resolves once `items` went out with whatever else came in this turn; rejects with that call's error. */
  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    for (const item of items) this.pending.push(item);
    if (!this.flushing) {
      this.flushing = new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          const batch = this.pending;
          this.pending = [];
          this.flushing = null;
          this.flush(batch).then(resolve, reject);
        }),
      );
    }
    return this.flushing;
  }
}
