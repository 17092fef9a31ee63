import { Logger } from '@nestjs/common';
import type { Consumer, Kafka } from 'kafkajs';
import type { ContactSnapshot } from '@iks/domain';
import { retryStalled, startFollower, topicOffsets, type AvroCodec } from '@iks/kafka';
import type { SnapshotAt } from './contact-store';
import type { Directory } from './directory';
import { resumePlan } from './resume-plan';

export interface FollowContactsOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly topic: string;
  /** Prefix of the throw-away consumer group (no commits: the offsets live in the store; deleted by stop()). */
  readonly groupPrefix: string;
  readonly directory: Directory;
  /**
   * Opens a snapshot's sealed contact (docs/ERASURE.md); null: its person is erased, the record
   * is passed over (her tombstone follows it in the topic). Default: the snapshot as decoded.
   */
  readonly open?: (snapshot: ContactSnapshot) => Promise<ContactSnapshot | null>;
  /**
   * A rebuild that read at least this many records reopens the store before following on
   * (default 10,000): the rebuild touched every page of the store, and a fresh mapping holds
   * only the pages lookups need from then on, as after a restart.
   */
  readonly reopenAfterRecords?: number;
  /** See CATCH_UP_STALL_MS (@iks/kafka). */
  readonly stallMs?: number;
}

export interface ContactsFollower {
  readonly consumer: Consumer;
  /** Stop following: leave and delete the throw-away group. */
  stop(): Promise<void>;
  /** 'resume' from the store's offsets, or 'rebuild' from the beginning. */
  readonly start: 'resume' | 'rebuild';
  /** Records read before caught up with the end offsets seen at start. */
  readonly replayed: number;
  /** The store was closed and opened again after the rebuild (see reopenAfterRecords). */
  readonly reopened: boolean;
}

const REOPEN_AFTER_RECORDS = 10_000;

/**
 * Fills the directory's store from the compacted contacts topic and keeps following it. Resumes
 * from the offsets stored with the contacts when they are valid for the topic, else wipes the
 * store and reads from the beginning. Resolves once caught up with the end offsets seen at start.
 * A large rebuild is read by a first consumer, the store reopened, and a second consumer
 * follows on from the stored offsets (the memory of a rebuilt replica is that of a restarted one).
 */
export async function followContacts(o: FollowContactsOptions): Promise<ContactsFollower> {
  const logger = new Logger('DirectoryFollower');
  const admin = o.kafka.admin();
  await admin.connect();
  const watermarks = await topicOffsets(admin, o.topic).finally(() => admin.disconnect());
  const plan = resumePlan(o.directory.storedOffsets(), watermarks);
  if (plan.kind === 'rebuild') {
    logger.warn(`rebuilding the directory store from the beginning of ${o.topic}: ${plan.why}`);
    o.directory.resetStore();
  }
  const from = plan.kind === 'resume' ? plan.from : new Map(watermarks.map((w) => [w.partition, BigInt(w.low)]));
  const ends = new Map<number, bigint>();
  for (const w of watermarks) if (BigInt(w.high) > (from.get(w.partition) ?? 0n)) ends.set(w.partition, BigInt(w.high));
  const behind = [...ends].reduce((n, [p, high]) => n + Number(high - (from.get(p) ?? 0n)), 0);
  const startKind = plan.kind === 'resume' && o.directory.storedOffsets().size > 0 ? 'resume' : 'rebuild';
  logger.log(
    `directory store: ${o.directory.stats.contacts} contacts; ${startKind === 'resume' ? 'resuming' : 'reading'} ${o.topic}, ${behind} record(s) to catch up`,
  );

  const first = await follow(o, from, ends);
  if (startKind !== 'rebuild' || first.replayed < (o.reopenAfterRecords ?? REOPEN_AFTER_RECORDS)) {
    return { consumer: first.consumer, stop: first.stop, start: startKind, replayed: first.replayed, reopened: false };
  }
  // caught up: stop reading (no apply runs past this), reopen the store, follow on from its offsets
  await first.stop();
  await o.directory.reopenStore();
  const next = await follow(o, o.directory.storedOffsets(), new Map());
  logger.log(`directory store rebuilt from ${first.replayed} record(s) and reopened; following ${o.topic}`);
  return { consumer: next.consumer, stop: next.stop, start: startKind, replayed: first.replayed, reopened: true };
}

/**
 * A throw-away consumer from `from`, resolved once every partition in `ends` reached its end
 * offset. A catch-up that reads nothing for CATCH_UP_STALL_MS is given up and started again
 * with a new group, once; then CatchUpStalledError (what it saw) fails the start.
 */
function follow(o: FollowContactsOptions, from: ReadonlyMap<number, bigint>, ends: ReadonlyMap<number, bigint>) {
  const logger = new Logger('DirectoryFollower');
  return retryStalled(logger, () => followOnce(o, from, ends, logger));
}

async function followOnce(
  o: FollowContactsOptions,
  from: ReadonlyMap<number, bigint>,
  ends: ReadonlyMap<number, bigint>,
  logger: Logger,
) {
  let replayed = 0;
  const { consumer, stop } = await startFollower(
    o.kafka,
    o.topic,
    o.groupPrefix,
    ends,
    { stallMs: o.stallMs, logger },
    (catchUp) => ({
      eachBatch: async ({ batch, heartbeat, isRunning }) => {
        const records: SnapshotAt[] = [];
        for (const m of batch.messages) {
          // a null value is Kafka's delete marker for compaction: nothing to store (the directory's own tombstones are records)
          if (!m.value) continue;
          const decoded = await o.codec.decodeAs('contacts', m.value);
          const snapshot = o.open ? await o.open(decoded) : decoded;
          if (snapshot === null) continue;
          records.push({ snapshot, partition: batch.partition, offset: m.offset });
        }
        // stopped while decoding (a rebuild handing over to the next consumer): the next one reads these again
        if (!isRunning()) return;
        o.directory.applyRecords(records);
        replayed += records.length;
        await heartbeat();
        if (batch.messages.length > 0) catchUp.reached(batch.partition, BigInt(batch.lastOffset()) + 1n);
      },
    }),
    // the stored offsets; the first fetch may still start from the beginning: the store skips what it has
    from,
  );
  return { consumer, stop, replayed };
}
