import { Logger } from '@nestjs/common';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { ContactSnapshot } from '@iks/domain';
import { connectionOf } from '@iks/domain';
import {
  countChange,
  DELETED,
  type ContactValueSealer,
  snapshotKey,
  storedValue,
  type ContactStore,
  type SnapshotAt,
  type StoreCounts,
  type StoredContact,
} from './contact-store';

/** Bumped when the stored layout changes: a store of another format is rebuilt from the topic. */
export const STORE_FORMAT = 4; // 2: only the mapped fields of each contact; 3: compressed with DICTIONARY; 4: sealed under the people's keys
/** A value sealed under its person's key (a contact's JSON never starts with a control character): `\u0001<connection>\u0001<contact id>\u0001<base64>`. */
const SEALED = '\u0001';
/** A tombstone on disk (a contact's JSON is never empty). */
const TOMBSTONE = '';
const LOCK_FILE = 'owner.pid';
/**
 * LZ4 dictionary: the skeleton of a stored contact (mappedContactJson's field names and the
 * values they often hold), so that each ~400-byte value compresses against it and not only
 * against itself: the store is about 2.4x smaller on disk and in mapped pages (measured with
 * the fixture contacts, and ~2x with random names, emails and attributes). Changing it changes
 * how values are read: bump STORE_FORMAT.
 */
const DICTIONARY =
  '"role":"lead"true@gmail.com{"type":"contact","id":"","role":"user","email":"","phone":"+1","name":"",' +
  '"avatar":{"image_url":"https://static.intercomassets.com/avatars/"},"location":{"city":"","country":"","region":""},' +
  '"has_hard_bounced":false,"marked_email_as_spam":false,"unsubscribed_from_emails":false,"custom_attributes":{},' +
  '"tags":{"data":[{"id":""}]},"created_at":17,"updated_at":17}';
/** The same in the store and in the child that checks it (compression must match to read the values); JSON-safe. */
const ENV_OPTIONS = { maxDbs: 4, compression: { threshold: 128, dictionary: DICTIONARY }, noReadAhead: true };
const CONTACTS_DB = { encoding: 'string' };
const CHECK_TIMEOUT_MS = 120_000;

interface Marker {
  readonly format: number;
  readonly topic: string;
}

/** Paths held by this process (a second runner in one process must not share a store). */
const heldPaths = new Set<string>();

/**
 * The contacts of one compacted topic on local disk (LMDB through lmdb-js): key = directoryKey
 * (the contact id; `<connection id>/<contact id>` for a connection but the default),
 * value = the JSON of the contact's mapped fields ('' for a tombstone), LZ4-compressed.
 * A `meta` table holds the marker (topic, format), the next offset of each partition and the
 * counts, written in the same transaction as the contacts. Reads are synchronous (memory-mapped),
 * so memory does not grow with the number of contacts: the OS pages the file in and out.
 */
export class LmdbContactStore implements ContactStore {
  private readonly logger = new Logger(LmdbContactStore.name);
  private next = new Map<number, bigint>();
  private tally: StoreCounts = { contacts: 0, tombstones: 0 };

  private constructor(
    readonly path: string,
    private readonly topic: string,
    private root: RootDatabase,
    private contacts: Database<string, string>,
    private meta: Database<unknown, string>,
    private readonly temporary: boolean,
    /** Seals each contact under her key before it is written (docs/ERASURE.md); none: kept as JSON. */
    private readonly sealer: ContactValueSealer | null = null,
  ) {}

  /**
   * Opens (or creates) the store at `path` for `topic`. A store that cannot be opened or read,
   * or was written for another topic or format, is wiped (the topic is the source of truth)
   * and the reason logged. A folder another live process (or runner) holds is not shared: a
   * temporary store beside it is used instead, and removed on close.
   */
  static open(path: string, topic: string, sealer: ContactValueSealer | null = null): LmdbContactStore {
    const logger = new Logger(LmdbContactStore.name);
    let where = path;
    let temporary = false;
    if (!takeLock(path)) {
      where = `${path}.tmp-${process.pid}-${Date.now()}`;
      temporary = true;
      logger.warn(
        `directory store ${path} is in use by another process or runner: using a temporary store ${where} (set DIRECTORY_PATH per replica)`,
      );
      if (!takeLock(where)) throw new Error(`cannot lock directory store ${where}`);
    }
    try {
      checkInChild(where);
      return LmdbContactStore.openAt(where, topic, temporary, sealer);
    } catch (e) {
      logger.warn(
        `directory store ${where} cannot be opened (${(e as Error).message}): wiping it and rebuilding from ${topic}`,
      );
      wipeFolder(where);
      if (!takeLock(where)) throw new Error(`cannot lock directory store ${where}`, { cause: e });
      return LmdbContactStore.openAt(where, topic, temporary, sealer);
    }
  }

  private static openAt(
    path: string,
    topic: string,
    temporary: boolean,
    sealer: ContactValueSealer | null,
  ): LmdbContactStore {
    const { root, contacts, meta } = openEnv(path);
    try {
      const store = new LmdbContactStore(path, topic, root, contacts, meta, temporary, sealer);
      store.load();
      return store;
    } catch (e) {
      try {
        root.close();
      } catch {
        // already failing: the first error is the one that matters
      }
      throw e;
    }
  }

  /** Reads the marker, offsets and counts; a store for another topic or format is emptied. */
  private load(): void {
    const marker = this.meta.get('marker') as Marker | undefined;
    if (!marker || marker.format !== STORE_FORMAT || marker.topic !== this.topic) {
      if (marker)
        this.logger.warn(
          `directory store ${this.path} holds ${JSON.stringify(marker)}, not format ${STORE_FORMAT} of ${this.topic}: rebuilding it`,
        );
      this.wipe();
      return;
    }
    const offsets = this.meta.get('offsets') as Record<string, string> | undefined;
    const counts = this.meta.get('counts') as StoreCounts | undefined;
    if (!offsets || !counts || typeof counts.contacts !== 'number' || typeof counts.tombstones !== 'number') {
      throw new Error('the offsets or counts are missing');
    }
    this.next = new Map(Object.entries(offsets).map(([p, o]) => [Number(p), BigInt(o)]));
    this.tally = { contacts: counts.contacts, tombstones: counts.tombstones };
    // a read through the contacts table: a damaged file fails here rather than on the first lookup
    for (const _ of this.contacts.getKeys({ limit: 1 })) break;
  }

  read(key: string): StoredContact | undefined {
    const v = this.contacts.get(key);
    if (v === undefined) return undefined;
    if (v === TOMBSTONE) return DELETED;
    if (!v.startsWith(SEALED)) return v;
    // sealed: opens while her key lives; an erased person reads as deleted
    const [, connectionId, contactId, b64] = v.split(SEALED);
    return this.sealer?.open(connectionId, contactId, Buffer.from(b64, 'base64')) ?? DELETED;
  }

  apply(records: readonly SnapshotAt[]): void {
    if (records.length === 0) return;
    // one synchronous write transaction: the contacts and the offsets commit together
    this.root.transactionSync(() => {
      for (const r of records) {
        const offset = BigInt(r.offset);
        if (offset < (this.next.get(r.partition) ?? 0n)) continue;
        this.write(r.snapshot);
        this.next.set(r.partition, offset + 1n);
      }
      this.meta.put('offsets', Object.fromEntries([...this.next].map(([p, o]) => [String(p), o.toString()])));
      this.meta.put('counts', this.tally);
    });
  }

  put(snapshot: ContactSnapshot): void {
    this.root.transactionSync(() => {
      this.write(snapshot);
      this.meta.put('counts', this.tally);
    });
  }

  private write(snapshot: ContactSnapshot): void {
    const value = storedValue(snapshot);
    if (value === undefined) return;
    const key = snapshotKey(snapshot);
    // counted by what is on disk (a sealed value of an erased person is still an entry, as the check in a child counts it)
    const prev = this.contacts.get(key);
    countChange(this.tally, prev === undefined ? undefined : prev === TOMBSTONE ? DELETED : prev, value);
    this.contacts.put(key, value === DELETED ? TOMBSTONE : this.sealed(snapshot, value));
  }

  /** The value as it is written: sealed under her key when the sealer holds one. */
  private sealed(snapshot: ContactSnapshot, value: string): string {
    const connectionId = connectionOf(snapshot);
    const sealed = this.sealer?.seal(connectionId, snapshot.id, value);
    return sealed ? ['', connectionId, snapshot.id, sealed.toString('base64')].join(SEALED) : value;
  }

  offsets(): ReadonlyMap<number, bigint> {
    return this.next;
  }

  counts(): StoreCounts {
    return { ...this.tally };
  }

  wipe(): void {
    this.next = new Map();
    this.tally = { contacts: 0, tombstones: 0 };
    this.root.transactionSync(() => {
      this.contacts.clearSync();
      this.meta.clearSync();
      this.meta.put('marker', { format: STORE_FORMAT, topic: this.topic } satisfies Marker);
      this.meta.put('offsets', {});
      this.meta.put('counts', this.tally);
    });
  }

  /**
   * Closes the LMDB environment (unmapping the file) and opens it again. Every write is a
   * synchronous transaction, so nothing is pending; the caller does not read or write meanwhile.
   */
  async reopen(): Promise<void> {
    await this.root.close();
    ({ root: this.root, contacts: this.contacts, meta: this.meta } = openEnv(this.path));
    this.load();
  }

  async close(): Promise<void> {
    await this.root.close();
    releaseLock(this.path);
    if (this.temporary) wipeFolder(this.path);
  }
}

function openEnv(path: string): {
  root: RootDatabase;
  contacts: Database<string, string>;
  meta: Database<unknown, string>;
} {
  const root = open({
    path: join(path, 'lmdb'),
    ...ENV_OPTIONS,
    compression: { ...ENV_OPTIONS.compression, dictionary: Buffer.from(DICTIONARY) },
  } as never) as RootDatabase;
  try {
    return {
      root,
      contacts: root.openDB<string, string>({ name: 'contacts', ...CONTACTS_DB } as never),
      meta: root.openDB<unknown, string>({ name: 'meta' } as never),
    };
  } catch (e) {
    try {
      root.close();
    } catch {
      // already failing: the first error is the one that matters
    }
    throw e;
  }
}

/**
 * LMDB trusts its files: a damaged one can crash the process on open or on a read instead of
 * throwing. So an existing store is first read in full by a child process (every entry, and
 * the counts compared); a child that crashes, fails or disagrees means the store is damaged.
 * The LMDB lock file (readers table) is removed first: this process holds the folder alone.
 */
function checkInChild(path: string): void {
  const dir = join(path, 'lmdb');
  if (!existsSync(join(dir, 'data.mdb'))) return;
  rmSync(join(dir, 'lock.mdb'), { force: true });
  const script = `
    const { open } = require(process.argv[1]);
    const options = JSON.parse(process.argv[3]);
    options.compression.dictionary = Buffer.from(options.compression.dictionary);
    const root = open({ path: process.argv[2], ...options });
    const contacts = root.openDB({ name: 'contacts', ...JSON.parse(process.argv[4]) });
    const meta = root.openDB({ name: 'meta' });
    let live = 0, deleted = 0;
    for (const { value } of contacts.getRange()) {
      if (typeof value !== 'string') throw new Error('a value that is not a string');
      if (value === '') deleted++; else live++;
    }
    const counts = meta.get('counts');
    if (counts && (counts.contacts !== live || counts.tombstones !== deleted)) {
      throw new Error('counts ' + JSON.stringify(counts) + ' but ' + live + ' contacts and ' + deleted + ' tombstones');
    }
    root.close();`;
  const r = spawnSync(
    process.execPath,
    ['-e', script, require.resolve('lmdb'), dir, JSON.stringify(ENV_OPTIONS), JSON.stringify(CONTACTS_DB)],
    {
      encoding: 'utf8',
      timeout: CHECK_TIMEOUT_MS,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  rmSync(join(dir, 'lock.mdb'), { force: true });
  if (r.error) throw new Error(`the check could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const why = r.signal
      ? `the check crashed (${r.signal})`
      : (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `the check exited with ${r.status}`);
    throw new Error(why.trim().slice(0, 300));
  }
}

/** Removes a store folder (a damaged store, or a temporary one). */
function wipeFolder(path: string): void {
  releaseLock(path);
  rmSync(path, { recursive: true, force: true });
}

/** An exclusive claim on a store folder: a pid file, taken over when its process is gone. */
function takeLock(path: string): boolean {
  if (heldPaths.has(path)) return false;
  mkdirSync(path, { recursive: true });
  const file = join(path, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldPaths.add(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) return false;
      // left by a process that is gone (or by this process, which no longer holds it)
      rmSync(file, { force: true });
    }
  }
  return false;
}

function releaseLock(path: string): void {
  if (!heldPaths.delete(path)) return;
  rmSync(join(path, LOCK_FILE), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
