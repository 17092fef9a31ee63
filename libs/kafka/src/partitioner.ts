/**
 * The partitioner of every producer of ours: the same partition for every keyed message as
 * kafkajs' DefaultPartitioner (the Java client's: murmur2 of the key, positive, modulo the
 * partition count), so a key stays on its partition across versions, replicas and other Kafka
 * clients; computed in 32-bit integer arithmetic. kafkajs computes murmur2 with its 64-bit `Long`
 * emulation (a dozen objects per 4 bytes of key) and filters the partitions' metadata for every
 * message: 3-4 µs and ~2.5 KB of garbage a message in the e2e bench, where a stage writes three
 * records for each event (issue #20).
 */
import { randomBytes } from 'node:crypto';
import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), a signed 32-bit result. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // the last 1-3 bytes (Java's switch falls through from case 3 to case 1)
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2] << 16;
  if (tail >= 2) h ^= data[whole + 1] << 8;
  if (tail >= 1) {
    h ^= data[whole];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `key` among `partitions`, as the Java client and kafkajs' DefaultPartitioner choose it. */
export function partitionOfKey(key: Buffer | string, partitions: number): number {
  return (murmur2(typeof key === 'string' ? Buffer.from(key) : key) & 0x7fffffff) % partitions;
}

/**
 * kafkajs' DefaultPartitioner, message for message: an explicit partition, else the key's
 * (partitionOfKey), else round robin over the partitions that have a leader, from a random start.
 */
export const JavaCompatiblePartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (key !== null && key !== undefined)
      return partitionOfKey(Buffer.isBuffer(key) ? key : String(key), partitionMetadata.length);
    const next = ((counters.get(topic) ?? randomBytes(4).readUInt32BE(0)) + 1) >>> 0;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[(next & 0x7fffffff) % available.length].partitionId;
    return (next & 0x7fffffff) % partitionMetadata.length;
  };
};
