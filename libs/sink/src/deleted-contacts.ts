/**
 * The sink's memory of deleted people (MAPPING.md: a deleted person is not brought back by a
 * replay or a late upsert): the Intercom contact ids of every record on klaviyo.deletions.v1,
 * on local disk (LMDB through lmdb-js), with the next offset of each partition read so far.
 *
 * - Bounded memory: the ids live in the file only (reads are memory-mapped: the kernel pages
 *   them in and out); nothing per id is held on the JS heap, and there is no cache of answers,
 *   so an id another process adds to a shared store can never be hidden by a stale "not deleted".
 * - No full re-read at start: the follower resumes from the stored offsets.
 * - Never a false "not deleted": the set only grows. Offsets are written in the same
 *   transaction as the ids they cover, so a crash loses both or neither. A missing or unreadable
 *   store is rebuilt from the topic (the same as a first start); an unreadable one is moved aside,
 *   not deleted. Ids read earlier are kept when the topic lost records (retention: the topic is
 *   not compacted, so a restart that re-read it would forget deletions older than its retention)
 *   or was recreated: an Intercom contact id, once deleted, never names a live person again.
 * - Never a false "deleted": only ids from deletion records are stored, keyed by the exact id
 *   (`<connection>/<contact id>` for every connection but the default one: connection-keys.ts).
 *
 * Several sink processes on one host may share the folder (LMDB is multi-process; writes are
 * serialized and only add ids or move offsets forward); runners in one process share one handle.
 */
import { Logger } from '@nestjs/common';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { retryStalled, startFollower, topicOffsets, type AvroCodec } from '@iks/kafka';
import { deletedKey } from './connection-keys';

/** Bumped when the stored layout changes. */
export const DELETED_STORE_FORMAT = 1;
const CHECK_TIMEOUT_MS = 120_000;

interface Marker {
  readonly format: number;
  readonly topic: string;
}

interface Shared {
  readonly root: RootDatabase;
  readonly ids: Database<true, string>;
  readonly meta: Database<unknown, string>;
  readonly topic: string;
  refs: number;
}

/** Open environments of this process, by folder (LMDB must not be opened twice in one process). */
const opened = new Map<string, Shared>();

export class DeletedContacts {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly env: Shared,
    /** Why the store starts empty (`undefined`: it was found and opened). */
    readonly rebuildReason: string | undefined,
  ) {}

  /**
   * Opens (or creates) the store at `path` for `topic`. A store that cannot be opened is moved
   * aside (`<path>.unreadable-<time>`) and a new one is created (the topic is read again); a store
   * of another topic is refused: two pipelines must not share a folder.
   */
  static open(path: string, topic: string): DeletedContacts {
    const logger = new Logger(DeletedContacts.name);
    const held = opened.get(path);
    if (held) {
      if (held.topic !== topic) throw new Error(mismatch(path, held.topic, topic));
      held.refs++;
      return new DeletedContacts(path, held, undefined);
    }
    const existed = existsSync(join(path, 'lmdb', 'data.mdb'));
    let env: Shared;
    let reason = existed ? undefined : 'no store yet';
    try {
      if (existed) checkInChild(path);
      env = openEnv(path, topic);
    } catch (e) {
      if (e instanceof StoreMismatchError) throw e;
      const aside = `${path}.unreadable-${Date.now()}`;
      reason = `the store could not be read (${(e as Error).message}); moved to ${aside}`;
      logger.warn(`deleted contacts store ${path}: ${reason}; reading ${topic} from the beginning`);
      renameSync(path, aside);
      env = openEnv(path, topic);
    }
    opened.set(path, env);
    return new DeletedContacts(path, env, reason);
  }

  /** Whether a deletion was read for this Intercom contact. */
  has(contactId: string): boolean {
    return this.env.ids.doesExist(contactId);
  }

  /** Deletions the sink itself just consumed (their offsets are the follower's to store). */
  add(contactIds: readonly string[]): void {
    if (contactIds.length === 0) return;
    this.env.root.transactionSync(() => {
      for (const id of contactIds) this.env.ids.put(id, true);
    });
  }

  /**
   * Ids read from `partition` up to `nextOffset` (exclusive), stored with that offset in one
   * transaction. An offset never moves back (another process on the same store may be ahead).
   */
  apply(partition: number, contactIds: readonly string[], nextOffset: bigint): void {
    this.env.root.transactionSync(() => {
      for (const id of contactIds) this.env.ids.put(id, true);
      const offsets = { ...((this.env.meta.get('offsets') as Record<string, string> | undefined) ?? {}) };
      const before = offsets[String(partition)];
      if (before === undefined || BigInt(before) < nextOffset) offsets[String(partition)] = nextOffset.toString();
      this.env.meta.put('offsets', offsets);
    });
  }

  /** The next offset to read per partition (empty: read from the beginning). */
  offsets(): ReadonlyMap<number, bigint> {
    const stored = (this.env.meta.get('offsets') as Record<string, string> | undefined) ?? {};
    return new Map(Object.entries(stored).map(([p, o]) => [Number(p), BigInt(o)]));
  }

  /** Forget the offsets (not the ids): the topic is read again from its first offsets. */
  resetOffsets(): void {
    this.env.root.transactionSync(() => void this.env.meta.put('offsets', {}));
  }

  /** Deleted contacts stored. */
  get size(): number {
    return (this.env.ids.getStats() as { entryCount: number }).entryCount;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (--this.env.refs > 0) return;
    opened.delete(this.path);
    await this.env.root.close();
  }
}

class StoreMismatchError extends Error {}

function mismatch(path: string, stored: string, topic: string): string {
  return `SINK_DELETED_CONTACTS_PATH: ${path} holds the deleted contacts of ${stored}, not ${topic}; give each pipeline (TOPIC_PREFIX) its own folder`;
}

/**
 * LMDB trusts its files: a damaged one can crash the process on open or on a read instead of
 * throwing. So an existing store is first read in full by a child process (every id and the
 * offsets); a child that crashes or fails means the store cannot be used.
 */
function checkInChild(path: string): void {
  const script = `
    const { open } = require(process.argv[1]);
    const root = open({ path: process.argv[2], maxDbs: 2, readOnly: true });
    const ids = root.openDB({ name: 'ids' });
    const meta = root.openDB({ name: 'meta' });
    for (const key of ids.getKeys()) if (typeof key !== 'string') throw new Error('an id that is not a string');
    const offsets = meta.get('offsets');
    if (offsets !== undefined && (typeof offsets !== 'object' || Object.values(offsets).some((o) => !/^\\d+$/.test(o)))) throw new Error('offsets that are not offsets');
    root.close();`;
  const r = spawnSync(process.execPath, ['-e', script, require.resolve('lmdb'), join(path, 'lmdb')], {
    encoding: 'utf8',
    timeout: CHECK_TIMEOUT_MS,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.error) throw new Error(`the check could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const why = r.signal
      ? `the check crashed (${r.signal})`
      : (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `the check exited with ${r.status}`);
    throw new Error(why.trim().slice(0, 300));
  }
}

function openEnv(path: string, topic: string): Shared {
  mkdirSync(path, { recursive: true });
  const root = open({ path: join(path, 'lmdb'), maxDbs: 2 } as never) as RootDatabase;
  try {
    const ids = root.openDB<true, string>({ name: 'ids' } as never);
    const meta = root.openDB<unknown, string>({ name: 'meta' } as never);
    const marker = meta.get('marker') as Marker | undefined;
    if (marker && marker.topic !== topic) throw new StoreMismatchError(mismatch(path, marker.topic, topic));
    // another layout: moved aside and rebuilt by open()
    if (marker && marker.format !== DELETED_STORE_FORMAT)
      throw new Error(`store format ${marker.format}, this sink writes ${DELETED_STORE_FORMAT}`);
    if (!marker) {
      root.transactionSync(() => {
        meta.put('marker', { format: DELETED_STORE_FORMAT, topic } satisfies Marker);
        meta.put('offsets', {});
      });
    }
    // a read through the ids table: a damaged file fails here rather than on the first lookup
    for (const _ of ids.getKeys({ limit: 1 })) break;
    return { root, ids, meta, topic, refs: 1 };
  } catch (e) {
    try {
      root.close();
    } catch {
      // already failing: the first error is the one that matters
    }
    throw e;
  }
}

/** A partition's offsets as kafkajs' admin.fetchTopicOffsets gives them. */
export interface Watermarks {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

/**
 * Where to read each partition from: the stored offset when it lies within [low, high]; else
 * the partition's first offset, keeping the ids (see the file comment), with the reason.
 */
export function deletionsResumePlan(
  stored: ReadonlyMap<number, bigint>,
  topic: readonly Watermarks[],
): { from: Map<number, bigint>; notes: string[] } {
  const from = new Map<number, bigint>();
  const notes: string[] = [];
  for (const w of topic) {
    const low = BigInt(w.low);
    const high = BigInt(w.high);
    const offset = stored.get(w.partition);
    if (offset === undefined) from.set(w.partition, low);
    else if (offset < low) {
      from.set(w.partition, low);
      notes.push(
        `partition ${w.partition}: records ${offset}..${low - 1n} left the topic (retention) before this sink read them; the deletions read before them are kept`,
      );
    } else if (offset > high) {
      from.set(w.partition, low);
      notes.push(
        `partition ${w.partition}: the store read to ${offset}, the topic ends at ${high} (recreated?): reading it from its start, the deletions read before are kept`,
      );
    } else from.set(w.partition, offset);
  }
  for (const p of stored.keys())
    if (!topic.some((w) => w.partition === p))
      notes.push(`partition ${p} of the store is not in the topic (${topic.length} partitions)`);
  return { from, notes };
}

export interface DeletionsFollower {
  /** Stop following: leave and delete the throw-away group. */
  stop(): Promise<void>;
  /** Records read before caught up with the end offsets seen at start. */
  readonly replayed: number;
  /** Where each partition was read from. */
  readonly from: ReadonlyMap<number, bigint>;
}

/**
 * Follows the deletions topic into `store` from its stored offsets, with a throw-away group (no
 * commits: the offsets live in the store). Resolves once caught up with the end offsets seen at
 * start, so the sink delivers nothing before it knows every deletion the topic held then; a
 * catch-up that reads nothing for 30 s is tried again once, then fails the start (CatchUp).
 */
export async function followDeletions(o: {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly topic: string;
  readonly groupPrefix: string;
  readonly store: DeletedContacts;
  /** See CATCH_UP_STALL_MS (@iks/kafka). */
  readonly stallMs?: number;
}): Promise<DeletionsFollower> {
  const logger = new Logger('DeletedContacts');
  const admin = o.kafka.admin();
  await admin.connect();
  const watermarks = await topicOffsets(admin, o.topic).finally(() => admin.disconnect());
  const { from, notes } = deletionsResumePlan(o.store.offsets(), watermarks);
  for (const n of notes) logger.warn(`deleted contacts store ${o.store.path}: ${n}`);
  const remaining = new Map<number, bigint>();
  for (const w of watermarks) if (BigInt(w.high) > from.get(w.partition)!) remaining.set(w.partition, BigInt(w.high));
  const behind = [...remaining].reduce((n, [p, high]) => n + Number(high - from.get(p)!), 0);
  logger.log(
    `deleted contacts: ${o.store.size} stored in ${o.store.path}${o.store.rebuildReason ? ` (new: ${o.store.rebuildReason})` : ''}; ${behind} record(s) of ${o.topic} to read`,
  );

  let replayed = 0;
  const once = async () => {
    const { stop } = await startFollower(
      o.kafka,
      o.topic,
      o.groupPrefix,
      remaining,
      { stallMs: o.stallMs, logger },
      (catchUp) => ({
        eachBatch: async ({ batch, heartbeat, isRunning }) => {
          if (batch.messages.length === 0) return;
          const ids: string[] = [];
          for (const m of batch.messages) {
            // a poison record is the main consumer's to dead-letter; its offset is passed all the same
            const d = await o.codec.decodeAs('deletions', m.value).catch(() => undefined);
            if (d) ids.push(deletedKey(d));
          }
          if (!isRunning()) return;
          const next = BigInt(batch.lastOffset()) + 1n;
          o.store.apply(batch.partition, ids, next);
          replayed += batch.messages.length;
          await heartbeat();
          catchUp.reached(batch.partition, next);
        },
      }),
      // the stored offsets; a first fetch from the beginning only adds ids the store already has
      from,
    );
    return stop;
  };
  // a catch-up that reads nothing for 30 s is tried again with a new group, once (CatchUp)
  const stop = await retryStalled(logger, once);
  return { stop, replayed, from };
}
