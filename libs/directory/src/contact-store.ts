import { connectionKey } from '@iks/connections';
import { connectionOf, type ContactSnapshot } from '@iks/domain';
import { mappedContactJson } from './mapped-contact';

/**
 * A contact's key in the store, the directory's cache and the contacts topic: its Intercom id
 * for the default connection (as before connections), `<connection id>/<contact id>` for
 * another, so two workspaces' contact ids never meet.
 */
export function directoryKey(connectionId: string, contactId: string): string {
  return connectionKey(connectionId, contactId);
}

/** The key of a snapshot of the contacts topic (by its connection_id). */
export function snapshotKey(snapshot: ContactSnapshot): string {
  return directoryKey(connectionOf(snapshot), snapshot.id);
}

/** What the store answers for a contact: its JSON (the fields the mapping reads), DELETED for a tombstone, undefined when unknown. */
export const DELETED = Symbol('deleted');
export type StoredContact = string | typeof DELETED;

/**
 * Seals what a store keeps on disk under the people's keys (docs/ERASURE.md): a contact erased
 * afterwards no longer opens, in the store's live pages or in the pages it freed (LMDB never
 * overwrites a page in place: a replaced value stays in the file until its page is reused).
 * The transformer's is SubjectKeys (libs/erasure), synchronous: the key is held in memory.
 */
export interface ContactValueSealer {
  /** The value sealed for its person, or null when no key of hers is held here (it is kept as it is then). */
  seal(connectionId: string, contactId: string, value: string): Buffer | null;
  /** The value back; null when her key is destroyed (erased). */
  open(connectionId: string, contactId: string, sealed: Buffer): string | null;
}

/** One record of the contacts topic, where it came from. */
export interface SnapshotAt {
  readonly snapshot: ContactSnapshot;
  readonly partition: number;
  readonly offset: string;
}

export interface StoreCounts {
  contacts: number;
  tombstones: number;
}

/**
 * The contacts of intercom.contacts.v1 as of some offsets. Two implementations: on local disk
 * (LmdbContactStore, the transformer) and in memory (MemoryContactStore, offline tools and specs).
 * `apply` writes the snapshots and the next offset of each partition together: the contents and
 * the offsets never disagree.
 */
export interface ContactStore {
  /** By directoryKey: the contact id, `<connection id>/<contact id>` for a connection but the default. */
  read(key: string): StoredContact | undefined;
  /** Snapshots in topic order; records below a partition's stored offset are ignored (already applied). */
  apply(records: readonly SnapshotAt[]): void;
  /** A snapshot not tied to an offset (kept for callers that feed the directory by hand). */
  put(snapshot: ContactSnapshot): void;
  /** Next offset to read, per partition of the topic. */
  offsets(): ReadonlyMap<number, bigint>;
  counts(): StoreCounts;
  /** Forget everything (contents and offsets): the next follow reads the topic from the beginning. */
  wipe(): void;
  /** Close and open again (same contents): drops what the process mapped or cached of the store. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** In memory, as the directory was before the local store: for `cli map`, benches and specs. */
export class MemoryContactStore implements ContactStore {
  private readonly contacts = new Map<string, StoredContact>();
  private readonly next = new Map<number, bigint>();
  private readonly tally: StoreCounts = { contacts: 0, tombstones: 0 };

  read(key: string): StoredContact | undefined {
    return this.contacts.get(key);
  }
  apply(records: readonly SnapshotAt[]): void {
    for (const r of records) {
      const offset = BigInt(r.offset);
      if (offset < (this.next.get(r.partition) ?? 0n)) continue;
      this.put(r.snapshot);
      this.next.set(r.partition, offset + 1n);
    }
  }
  put(snapshot: ContactSnapshot): void {
    const value = storedValue(snapshot);
    if (value === undefined) return;
    const key = snapshotKey(snapshot);
    countChange(this.tally, this.contacts.get(key), value);
    this.contacts.set(key, value);
  }
  offsets(): ReadonlyMap<number, bigint> {
    return this.next;
  }
  counts(): StoreCounts {
    return { ...this.tally };
  }
  wipe(): void {
    this.contacts.clear();
    this.next.clear();
    this.tally.contacts = 0;
    this.tally.tombstones = 0;
  }
  async reopen(): Promise<void> {
    // nothing mapped
  }
  async close(): Promise<void> {
    // nothing to release
  }
}

/** The stored form of a snapshot (the mapped fields only); undefined for a snapshot that says nothing (neither deleted nor a contact). */
export function storedValue(snapshot: ContactSnapshot): StoredContact | undefined {
  if (snapshot.deleted) return DELETED;
  return snapshot.contact_json ? mappedContactJson(snapshot.contact_json) : undefined;
}

/** Keeps the contact and tombstone counts right when `prev` is replaced by `value`. */
export function countChange(tally: StoreCounts, prev: StoredContact | undefined, value: StoredContact): void {
  if (prev === DELETED) tally.tombstones--;
  else if (prev !== undefined) tally.contacts--;
  if (value === DELETED) tally.tombstones++;
  else tally.contacts++;
}
