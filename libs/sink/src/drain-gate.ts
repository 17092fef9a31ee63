/**
 * Per-person order for profiles after an account comes back (docs/CONNECTIONS.md, "Isolation in
 * the sink"). While a connection's records were parked, a newer profile of a person must not be
 * upserted before the older one still waiting in the parked topic, or Klaviyo would keep the
 * older attributes. So once its account answers again (or when this replica first meets a
 * connection whose parked partition has a backlog), the connection's profiles keep being parked,
 * behind the others, until the sink's group has committed past every record parked before: the
 * highest offset this replica parked for it, and the partition's end when the wait began (what
 * other replicas parked). Events (deduplicated by unique_id, each with its own time) and
 * deletions (the deleted-contacts set suppresses what is re-offered after them) go on directly.
 */
export interface PartitionProgress {
  /** The sink group's committed offset (the next record it will read). */
  readonly committed: bigint;
  /** The partition's end offset (the next offset to be written). */
  readonly high: bigint;
}

interface Wait {
  /** The end offset is still to be read (a snapshot taken after the wait began). */
  pending: boolean;
  /** Profiles wait until the group committed past this offset. */
  target: bigint;
}

export class DrainGate {
  private readonly waits = new Map<string, Wait>();
  private readonly lastParked = new Map<string, bigint>();

  constructor(private readonly partitionOf: (connectionId: string) => number) {}

  /** This replica parked a record of `connectionId` at `offset`: a wait in progress covers it too. */
  parked(connectionId: string, offset: bigint): void {
    const before = this.lastParked.get(connectionId);
    if (before === undefined || offset > before) this.lastParked.set(connectionId, offset);
    const w = this.waits.get(connectionId);
    if (w && offset > w.target) w.target = offset;
  }

  /** Profiles of `connectionId` wait from now on, until the next snapshots show the group past what was parked. */
  begin(connectionId: string): void {
    const w = this.waits.get(connectionId);
    const target = this.lastParked.get(connectionId) ?? -1n;
    if (w) w.pending = true;
    else this.waits.set(connectionId, { pending: true, target });
  }

  /** A connection met for the first time: it waits when its parked partition has a backlog (or nothing is known yet). */
  meet(connectionId: string, snapshot: ReadonlyMap<number, PartitionProgress> | null): void {
    const p = snapshot?.get(this.partitionOf(connectionId));
    if (!snapshot || (p && p.committed < p.high)) this.begin(connectionId);
  }

  /** Whether the connection's profiles must be parked now. */
  holds(connectionId: string): boolean {
    return this.waits.has(connectionId);
  }

  /** Connections waiting now. */
  get waiting(): readonly string[] {
    return [...this.waits.keys()];
  }

  /** A fresh snapshot of the parked partitions: pending waits take the end offsets, passed ones end. Returns those that ended. */
  update(snapshot: ReadonlyMap<number, PartitionProgress>): string[] {
    const ended: string[] = [];
    for (const [id, w] of this.waits) {
      const p = snapshot.get(this.partitionOf(id));
      if (!p) continue;
      if (w.pending) {
        w.pending = false;
        if (p.high - 1n > w.target) w.target = p.high - 1n;
      }
      if (p.committed > w.target) {
        this.waits.delete(id);
        ended.push(id);
      }
    }
    return ended;
  }
}
