import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';

/**
 * A consumer that reads for itself only (a follower, a console, a range read). kafkajs assigns
 * partitions only through a consumer group, so it gets a group of its own; it never commits
 * (run it with autoCommit: false), and stop() leaves the group and deletes it, so a cluster's
 * group list shows only the real groups. Were the delete to fail (broker away, a SIGKILL), the
 * group is empty and has no offsets: the broker drops it at its next offsets-retention check
 * (offsets.retention.check.interval.ms, 10 min by default).
 */
export interface ThrowAwayConsumer {
  readonly consumer: Consumer;
  readonly groupId: string;
  /** Leave and delete the group; idempotent, never throws. */
  stop(): Promise<void>;
}

export function throwAwayConsumer(
  kafka: Kafka,
  groupPrefix: string,
  config: Omit<ConsumerConfig, 'groupId'> = {},
): ThrowAwayConsumer {
  const groupId = `${groupPrefix}.${hostname()}.${process.pid}.${Date.now()}.${randomBytes(2).toString('hex')}`;
  const consumer = kafka.consumer({ ...config, groupId });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await consumer.disconnect().catch(() => undefined); // sends LeaveGroup: the group is empty now
      await deleteGroup(kafka, groupId);
    })());
  return { consumer, groupId, stop };
}

/** admin.deleteGroups; a group never joined (GROUP_ID_NOT_FOUND) or a broker away is no error here. */
export async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // see ThrowAwayConsumer: an empty group without offsets expires by itself
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
