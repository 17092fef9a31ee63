import type { Config } from '@iks/config';
import { topicName } from '@iks/kafka';
import type { SharedAdmin } from './shared-admin';

export interface PartitionLag {
  readonly stage: 'transformer' | 'sink';
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly committed: string | null;
  readonly high: string;
  readonly lag: number;
}

/**
 * Lag per stage and partition from Kafka itself: the committed offsets of the transformer and
 * sink groups against the high watermarks (admin API), as `kafka-consumer-groups` shows it.
 */
export class PipelineLag {
  private cache: { at: number; rows: PartitionLag[] } | null = null;

  constructor(
    private readonly admin: SharedAdmin,
    private readonly config: Config,
  ) {}

  async read(maxAgeMs = 2000): Promise<PartitionLag[]> {
    if (this.cache && Date.now() - this.cache.at < maxAgeMs) return this.cache.rows;
    const p = this.config.kafka.topicPrefix;
    const tg = this.config.transformer.groupId;
    const sg = this.config.sink.groupId;
    const pairs = [
      { stage: 'transformer' as const, groupId: tg, topic: topicName('notifications', p) },
      { stage: 'transformer' as const, groupId: `${tg}.retry`, topic: topicName('notificationsRetry', p) },
      { stage: 'sink' as const, groupId: sg, topic: topicName('events', p) },
      { stage: 'sink' as const, groupId: sg, topic: topicName('profiles', p) },
      { stage: 'sink' as const, groupId: sg, topic: topicName('deletions', p) },
    ];
    return this.admin.use(async (admin) => {
      const existing = new Set(await admin.listTopics());
      const rows: PartitionLag[] = [];
      for (const { stage, groupId, topic } of pairs) {
        if (!existing.has(topic)) continue;
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const e of ends.sort((a, b) => a.partition - b.partition)) {
          const c = committed?.partitions.find((x) => x.partition === e.partition)?.offset ?? '-1';
          const from = BigInt(c) < 0n ? BigInt(e.low) : BigInt(c);
          const lag = BigInt(e.high) > from ? Number(BigInt(e.high) - from) : 0;
          rows.push({
            stage,
            groupId,
            topic,
            partition: e.partition,
            committed: BigInt(c) < 0n ? null : c,
            high: e.high,
            lag,
          });
        }
      }
      this.cache = { at: Date.now(), rows };
      return rows;
    });
  }
}
