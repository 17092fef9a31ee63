import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { nextOffset } from './next-offset.util';
import { topicOffsets } from './follow-topic';

export interface OffsetRange {
  readonly partition: number;
  readonly from: bigint;
  /** Exclusive. */
  readonly to: bigint;
}

/**
 * Reads the records of `topic` in the given offset ranges and returns them by partition, in
 * order, without committing anything anywhere: a throw-away group whose start offsets are set
 * before it joins (partitions outside the ranges are set to their end), deleted afterwards.
 */
export async function readTopicRanges(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  ranges: readonly OffsetRange[],
  { idleTimeoutMs = 30_000 } = {},
): Promise<Array<{ partition: number; message: KafkaMessage }>> {
  const wanted = ranges.filter((r) => r.to > r.from);
  if (wanted.length === 0) return [];
  const groupId = `iks-read.${Date.now()}.${randomBytes(3).toString('hex')}`;
  const marks = await topicOffsets(admin, topic);
  const start = new Map(wanted.map((r) => [r.partition, r.from.toString()]));
  await admin.setOffsets({
    groupId,
    topic,
    partitions: marks.map((m) => ({ partition: m.partition, offset: start.get(m.partition) ?? m.high })),
  });

  const out: Array<{ partition: number; message: KafkaMessage }> = [];
  const remaining = new Map(wanted.map((r) => [r.partition, r]));
  let lastProgress = Date.now();
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const r = remaining.get(partition);
        if (!r) return;
        lastProgress = Date.now();
        const offset = BigInt(message.offset);
        if (offset >= r.from && offset < r.to) out.push({ partition, message });
        if (BigInt(nextOffset(message.offset)) >= r.to) remaining.delete(partition);
      },
    });
    while (remaining.size > 0) {
      if (Date.now() - lastProgress > idleTimeoutMs) {
        throw new Error(
          `reading ${topic}: no progress for ${idleTimeoutMs} ms on partition(s) ${[...remaining.keys()].join(',')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return out.sort(
    (x, y) => x.partition - y.partition || (BigInt(x.message.offset) < BigInt(y.message.offset) ? -1 : 1),
  );
}
