import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface IndexFile {
  version: 1;
  /** The events topic (with prefix) and the profiles topic this index was read from. */
  eventsTopic: string;
  profilesTopic: string;
  /** Next offset to read, per topic and partition (decimal strings: Kafka offsets are int64). */
  positions: Record<string, Record<string, string>>;
  /** unique_ids of klaviyo.events.v1. */
  eventIds: string[];
  /** contact id (`<connection id>/<contact id>` for a connection other than the default) → newest Intercom updated_at of a klaviyo.profiles.v1 record. */
  profiles: Record<string, number>;
  /** unique_id → unix ms: written to the raw topic by `reconcile --heal`, not yet seen produced. */
  healed: Record<string, number>;
}

/**
 * What the pipeline has produced, for `reconcile`: the unique_ids on klaviyo.events.v1 and the
 * newest profile per contact on klaviyo.profiles.v1, with the offsets read so far, in one local
 * JSON file. Each run reads only what was appended since (the stored offsets): the positions and
 * the ids are saved together, atomically (write + rename), so they can never disagree, which a
 * consumer group's committed offsets (kept by the broker) next to a local file could.
 * Scale: ~60 bytes per event id; a compacted topic keyed by unique_id is the next step when the
 * file grows past what a CLI should load (README "Gaps").
 */
export class ProducedIndex {
  private data: IndexFile;
  private readonly ids: Set<string>;

  private constructor(
    readonly path: string,
    data: IndexFile,
  ) {
    this.data = data;
    this.ids = new Set(data.eventIds);
  }

  static open(dir: string, eventsTopic: string, profilesTopic: string): ProducedIndex {
    const path = join(dir, `${eventsTopic}.index.json`);
    try {
      const d = JSON.parse(readFileSync(path, 'utf8')) as IndexFile;
      if (d.version === 1 && d.eventsTopic === eventsTopic && d.profilesTopic === profilesTopic)
        return new ProducedIndex(path, d);
    } catch {
      /* none yet: read from the beginning */
    }
    return new ProducedIndex(path, {
      version: 1,
      eventsTopic,
      profilesTopic,
      positions: {},
      eventIds: [],
      profiles: {},
      healed: {},
    });
  }

  position(topic: string, partition: number): bigint {
    const p = this.data.positions[topic]?.[String(partition)];
    return p === undefined ? 0n : BigInt(p);
  }

  advance(topic: string, partition: number, next: bigint): void {
    (this.data.positions[topic] ??= {})[String(partition)] = next.toString();
  }

  addEvent(uniqueId: string): void {
    if (this.ids.has(uniqueId)) return;
    this.ids.add(uniqueId);
    this.data.eventIds.push(uniqueId);
    delete this.data.healed[uniqueId];
  }

  addProfile(contactId: string, updatedAt: number | null): void {
    const at = updatedAt ?? 0;
    if ((this.data.profiles[contactId] ?? -1) < at) this.data.profiles[contactId] = at;
  }

  hasEvent(uniqueId: string): boolean {
    return this.ids.has(uniqueId);
  }

  /** The newest updated_at of a profile produced for the contact, or undefined. */
  profileUpdatedAt(contactId: string): number | undefined {
    return this.data.profiles[contactId];
  }

  markHealed(key: string, at = Date.now()): void {
    this.data.healed[key] = at;
  }

  wasHealed(key: string): boolean {
    return key in this.data.healed;
  }

  get size(): number {
    return this.ids.size;
  }

  save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.path);
  }
}
