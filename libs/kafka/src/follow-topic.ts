import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { retry } from '@iks/retry';
import { GROUP_TIMING } from './kafka-client';
import { throwAwayConsumer, type ThrowAwayConsumer } from './throw-away-group';

/**
 * admin.fetchTopicOffsets, riding out a topic created a moment ago whose leaders are not elected
 * yet (NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PARTITION: kafkajs marks both retriable).
 */
export function topicOffsets(admin: Admin, topic: string): ReturnType<Admin['fetchTopicOffsets']> {
  return retry(() => admin.fetchTopicOffsets(topic), { maxElapsedMs: 30_000, initialMs: 200, maxDelayMs: 2000 });
}

/**
 * Event-sourced state in memory: reads a whole topic from the beginning with a throw-away
 * group (no commits, deleted by stop()) and resolves once it has caught up with the end offsets
 * seen at start; the consumer keeps following new records until stop(). Used for the sink's
 * deletion tombstones and the reconciler's outages (the directory has its own: follow-contacts.ts).
 */
export async function followTopic(
  kafka: Kafka,
  topic: string,
  groupPrefix: string,
  apply: (message: KafkaMessage, partition: number) => Promise<void> | void,
): Promise<ThrowAwayConsumer> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await topicOffsets(admin, topic).finally(() => admin.disconnect());
  const remaining = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const follower = throwAwayConsumer(kafka, groupPrefix, GROUP_TIMING);
  const { consumer } = follower;
  let caughtUp: () => void = () => undefined;
  const done = new Promise<void>((r) => (caughtUp = r));
  if (remaining.size === 0) caughtUp();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        await apply(message, partition);
        const end = remaining.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) {
          remaining.delete(partition);
          if (remaining.size === 0) caughtUp();
        }
      },
    });
  } catch (e) {
    await follower.stop();
    throw e;
  }
  await done;
  return follower;
}
