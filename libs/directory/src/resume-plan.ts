/** A partition's offsets as kafkajs' admin.fetchTopicOffsets gives them. */
export interface PartitionWatermarks {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export type ResumePlan =
  | { readonly kind: 'resume'; readonly from: ReadonlyMap<number, bigint> }
  | { readonly kind: 'rebuild'; readonly why: string };

/**
 * Whether a store's offsets can be resumed on the topic as it is now. Each stored offset must
 * name an existing partition and lie within [low, high]: below low, records the store never
 * saw are gone (tombstones among them); above high, the topic is not the one the store read
 * (recreated, or another cluster). A partition without a stored offset is read from its start.
 */
export function resumePlan(stored: ReadonlyMap<number, bigint>, topic: readonly PartitionWatermarks[]): ResumePlan {
  const byPartition = new Map(topic.map((w) => [w.partition, w]));
  const from = new Map<number, bigint>();
  for (const [partition, offset] of stored) {
    const w = byPartition.get(partition);
    if (!w)
      return {
        kind: 'rebuild',
        why: `partition ${partition} of the store is not in the topic (${topic.length} partitions)`,
      };
    if (offset < BigInt(w.low))
      return {
        kind: 'rebuild',
        why: `partition ${partition}: stored offset ${offset} is below the topic's first offset ${w.low}`,
      };
    if (offset > BigInt(w.high))
      return {
        kind: 'rebuild',
        why: `partition ${partition}: stored offset ${offset} is past the topic's end ${w.high}`,
      };
    from.set(partition, offset);
  }
  for (const w of topic) if (!from.has(w.partition)) from.set(w.partition, BigInt(w.low));
  return { kind: 'resume', from };
}
