import { hostname } from 'node:os';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { retry } from '@iks/retry';
import { GROUP_TIMING } from './kafka-client';

/**
 * Event-sourced state in memory: reads a whole topic from the beginning with a throw-away
 * group (no commits) and resolves once it has caught up with the end offsets seen at start;
 * the consumer keeps following new records. Used for the transformer's contact directory and
 * the sink's deletion tombstones.
 */
/**
 * admin.fetchTopicOffsets, riding out a topic created a moment ago whose leaders are not elected
 * yet (NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PARTITION: kafkajs marks both retriable).
 */
export function topicOffsets(admin: Admin, topic: string): ReturnType<Admin['fetchTopicOffsets']> {
  return retry(() => admin.fetchTopicOffsets(topic), { maxElapsedMs: 30_000, initialMs: 200, maxDelayMs: 2000 });
}

export async function followTopic(
  kafka: Kafka, topic: string, groupPrefix: string, apply: (message: KafkaMessage) => Promise<void> | void,
): Promise<Consumer> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await topicOffsets(admin, topic).finally(() => admin.disconnect());
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const consumer = kafka.consumer({ groupId: `${groupPrefix}.${hostname()}.${process.pid}.${Date.now()}`, ...GROUP_TIMING });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let caughtUp: () => void = () => undefined;
  const done = new Promise<void>((r) => (caughtUp = r));
  if (remaining.size === 0) caughtUp();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      await apply(message);
      const end = remaining.get(partition);
      if (end !== undefined && BigInt(message.offset) + 1n >= end) {
        remaining.delete(partition);
        if (remaining.size === 0) caughtUp();
      }
    },
  });
  await done;
  return consumer;
}
