import type { Admin } from 'kafkajs';
import type { Config } from '@iks/config';
import type { IntercomSource } from '@iks/directory';
import type { TopicKey } from '@iks/kafka';
import { createSinkRunner, SinkRunner } from '@iks/sink';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import type { PartitionPlan, ReplayPlan } from './replay-plan';

export type ReplayStage = 'sink' | 'transformer';

export const replayStage = (key: TopicKey): ReplayStage => (key === 'notifications' ? 'transformer' : 'sink');

export interface ReplayProgress {
  /** Records of the plan processed (committed by the replay group). */
  readonly done: bigint;
  readonly total: bigint;
  /** Per partition, the next offset the replay group will read. */
  readonly committed: ReadonlyMap<number, bigint>;
}

/**
 * A replay run in this process: the stage (sink re-delivers, transformer re-maps) through a fresh
 * group of its own, from the plan's starts to its ends, while the live group is not touched. The
 * CLI's `replay` and the console's replay button both run this.
 */
export class InProcessReplay {
  private constructor(
    private readonly admin: Admin,
    readonly plan: ReplayPlan,
    readonly groupId: string,
    readonly stage: ReplayStage,
    private readonly initial: ReadonlyArray<{ partition: number; offset: string }>,
    private readonly runner: SinkRunner | TransformerRunner,
  ) {}

  /**
   * Starts it. The fresh group gets its start offsets before it joins: partitions outside the plan
   * are set to their end so that nothing else of the topic is read (a fresh group would start at 0).
   */
  static async start(
    admin: Admin,
    config: Config,
    topic: { key: TopicKey; name: string },
    plan: ReplayPlan,
    groupId: string,
    intercomSource?: IntercomSource,
  ): Promise<InProcessReplay> {
    const marks = await admin.fetchTopicOffsets(topic.name);
    const byPartition = new Map(plan.plan.map((p) => [p.partition, p.from.toString()]));
    const initial = marks.map((m) => ({ partition: m.partition, offset: byPartition.get(m.partition) ?? m.high }));
    await admin.setOffsets({ groupId, topic: topic.name, partitions: initial });
    const stage = replayStage(topic.key);
    if (stage === 'sink') {
      const until = new Map(plan.plan.map((p) => [`${topic.name}:${p.partition}`, p.to]));
      const sink = await createSinkRunner(config, {
        run: { groupId, topics: [topic.key as 'events' | 'profiles' | 'deletions'], mode: 'replay', until },
      });
      const run = new InProcessReplay(admin, plan, groupId, stage, initial, sink);
      await sink.start();
      return run;
    }
    const transformer = await createTransformerRunner(config, {
      intercomSource,
      run: { groupId, retryConsumer: false },
    });
    const run = new InProcessReplay(admin, plan, groupId, stage, initial, transformer);
    await transformer.start();
    return run;
  }

  async progress(): Promise<ReplayProgress> {
    const committed = await this.committed();
    const done = this.plan.plan.reduce((n, p) => {
      const c = committed.get(p.partition) ?? -1n;
      return n + (c <= p.from ? 0n : c >= p.to ? p.to - p.from : c - p.from);
    }, 0n);
    return { done, total: this.plan.total, committed };
  }

  /** The replay's consumers as its stage sees them (running, failing, lag): said when a replay stops moving. */
  consumerState(): string {
    const h = (this.runner as { health?: () => { consumers: readonly object[] } }).health?.();
    return h ? JSON.stringify(h.consumers) : 'unknown';
  }

  /** `--from-offset` of what is left, for a replay interrupted at `committed`. */
  resumeFrom(committed: ReadonlyMap<number, bigint>): string {
    return this.plan.plan
      .filter((p: PartitionPlan) => (committed.get(p.partition) ?? -1n) < p.to)
      .map((p) => {
        const c = committed.get(p.partition) ?? -1n;
        return `${p.partition}:${c > p.from ? c : p.from}`;
      })
      .join(',');
  }

  summary(): string {
    if (this.runner instanceof SinkRunner) {
      const delivered = this.runner.tally.count('done');
      const dead = this.runner.tally.count('dead_letter');
      return `${delivered + dead} replayed, ${delivered} delivered, ${dead} dead-lettered`;
    }
    const t = this.runner.tally;
    // a notification naming a person whose keys are destroyed (docs/ERASURE.md) is passed over, not failed
    const erased = t.countReason('skip', 'erased');
    return `${t.count()} replayed, ${t.producedCount()} record(s) produced, ${t.count('pending')} sent to the retry topic, ${t.count('dead_letter')} dead-lettered${erased > 0 ? `, ${erased} skipped as erased (a person they name was deleted; unreadable)` : ''}`;
  }

  /** Stops the stage. Returns how many records were read past the planned end (whole batches). */
  async stop(): Promise<bigint> {
    await this.runner.stop();
    const committed = await this.committed();
    let read = 0n;
    for (const i of this.initial) read += (committed.get(i.partition) ?? BigInt(i.offset)) - BigInt(i.offset);
    return read > this.plan.total ? read - this.plan.total : 0n;
  }

  /** Deletes the replay's group (best effort). */
  async cleanUp(): Promise<void> {
    await this.runner.stop().catch(() => undefined);
    await this.admin.deleteGroups([this.groupId]).catch(() => undefined);
  }

  private async committed(): Promise<Map<number, bigint>> {
    const committed = new Map<number, bigint>();
    for (const t of await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.plan.topic] })) {
      for (const p of t.partitions) committed.set(p.partition, BigInt(p.offset));
    }
    return committed;
  }
}
