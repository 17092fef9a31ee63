import { Logger } from '@nestjs/common';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { retry } from '@iks/retry';
import { retryStalled, startFollower, type CatchUpOptions } from './catch-up';
import type { ThrowAwayConsumer } from './throw-away-group';

/**
 * admin.fetchTopicOffsets, riding out a topic created a moment ago whose leaders are not elected
 * yet (NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PARTITION: kafkajs marks both retriable).
 */
export function topicOffsets(admin: Admin, topic: string): ReturnType<Admin['fetchTopicOffsets']> {
  return retry(() => admin.fetchTopicOffsets(topic), { maxElapsedMs: 30_000, initialMs: 200, maxDelayMs: 2000 });
}

export interface FollowTopicOptions extends Pick<CatchUpOptions, 'stallMs'> {
  /** Tries of a catch-up that stalls (each with a new throw-away group) before the start fails; default 2. */
  readonly attempts?: number;
}

/**
 * Event-sourced state in memory: reads a whole topic from the beginning with a throw-away
 * group (no commits, deleted by stop()) and resolves once it has caught up with the end offsets
 * seen at start; the consumer keeps following new records until stop(). Used for the subject
 * keys, the sink's deletion tombstones, the connections and the reconciler's outages (the
 * directory has its own: follow-contacts.ts).
 *
 * A catch-up that reads nothing for a while (CatchUp: its group never got the partitions, its
 * consumer crashed for good) is given up and started again with a new group, once by default;
 * then the start fails with CatchUpStalledError saying what it saw, instead of hanging.
 * Records applied by a try that is given up are applied again by the next (`apply` must be
 * idempotent, as every follower's is: it folds records into state by key).
 */
export async function followTopic(
  kafka: Kafka,
  topic: string,
  groupPrefix: string,
  apply: (message: KafkaMessage, partition: number) => Promise<void> | void,
  opts: FollowTopicOptions = {},
): Promise<ThrowAwayConsumer> {
  const logger = new Logger('FollowTopic');
  return retryStalled(
    logger,
    () => followOnce(kafka, topic, groupPrefix, apply, { stallMs: opts.stallMs, logger }),
    Math.max(1, opts.attempts ?? 2),
  );
}

async function followOnce(
  kafka: Kafka,
  topic: string,
  groupPrefix: string,
  apply: (message: KafkaMessage, partition: number) => Promise<void> | void,
  opts: CatchUpOptions,
): Promise<ThrowAwayConsumer> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await topicOffsets(admin, topic).finally(() => admin.disconnect());
  const remaining = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const follower = await startFollower(kafka, topic, groupPrefix, remaining, opts, (catchUp) => ({
    eachMessage: async ({ partition, message }) => {
      await apply(message, partition);
      catchUp.reached(partition, BigInt(message.offset) + 1n);
    },
  }));
  return follower;
}
