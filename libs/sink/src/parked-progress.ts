import { Logger } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import { retry } from '@iks/retry';
import type { PartitionProgress } from './drain-gate';

/** The sink group's committed offsets and the end offsets of the parked topic (one admin round trip each). */
export class ParkedProgress {
  private admin?: Admin;
  partitions = 1;
  snapshot: ReadonlyMap<number, PartitionProgress> | null = null;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly groupId: string,
  ) {}

  /**
   * Reads the topic's partition count (a topic just created may need a moment for its leaders).
   * The first snapshot may fail: until one is read, a connection met first waits (drain-gate.ts).
   */
  async start(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    const admin = this.admin;
    const { topics } = await retry(() => admin.fetchTopicMetadata({ topics: [this.topic] }), {
      retries: 20,
      initialMs: 100,
      maxMs: 2000,
      isRetriable: () => true,
    });
    this.partitions = Math.max(1, topics[0]?.partitions.length ?? 1);
    await this.refresh().catch((e: Error) =>
      new Logger(ParkedProgress.name).warn(`no progress of ${this.topic} yet (${e.message}): read again shortly`),
    );
  }

  async refresh(): Promise<ReadonlyMap<number, PartitionProgress>> {
    if (!this.admin) throw new Error('ParkedProgress: start() first');
    const [ends, [committed]] = await Promise.all([
      this.admin.fetchTopicOffsets(this.topic),
      this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
    ]);
    const low = new Map(ends.map((e) => [e.partition, BigInt(e.low)]));
    const out = new Map<number, PartitionProgress>();
    for (const e of ends) {
      const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
      // nothing committed yet: the group starts at the partition's first offset
      out.set(e.partition, { committed: BigInt(c) < 0n ? low.get(e.partition)! : BigInt(c), high: BigInt(e.high) });
    }
    this.snapshot = out;
    return out;
  }

  async stop(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }
}
