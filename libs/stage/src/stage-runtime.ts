import { Logger } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { DeadLetterPublisher, type AvroCodec } from '@iks/kafka';
import { StageConsumer, type ConsumedTopic, type ConsumerHealth } from './stage-consumer';
import { StageTally } from './stage-metrics';
import type { AnyStageTopic, HandlerLookup, StageConsumerSpec, StageName } from './stage.types';

export interface StageRuntimeOptions {
  readonly stage: StageName;
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly codec: AvroCodec;
  readonly registry: Registry;
  /** Ready turns red when a consumer with lag has not committed for this long. */
  readonly stallReadyMs: number;
  /** Live turns red (an orchestrator restarts the process) after this long without progress. */
  readonly stallLiveMs: number;
  readonly onFatal?: (error: unknown) => void;
  /** Backoff of a failing slice (libs/retry, jittered): from this, doubling up to retryMaxMs. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Only this connection's records are handled; the others are committed past, unhandled (a replay's `--connection`). */
  readonly onlyConnection?: string | null;
}

export interface StageHealth {
  readonly ready: boolean;
  readonly live: boolean;
  readonly consumers: readonly ConsumerHealth[];
}

/** The consumers of one stage, their handlers, and the health they add up to. */
export class StageRuntime {
  private readonly logger: Logger;
  readonly tally: StageTally;
  private readonly consumers: StageConsumer[] = [];
  private started = false;

  constructor(private readonly opts: StageRuntimeOptions) {
    this.logger = new Logger(opts.stage);
    this.tally = new StageTally(opts.stage, opts.registry);
  }

  /**
   * Starts one consumer per spec, each topic served by the one handler of its topic key. Fails
   * before consuming anything when a topic has no handler (a stage that cannot handle a topic it
   * reads would otherwise sit idle on it).
   */
  async start(specs: readonly StageConsumerSpec[], handlerFor: HandlerLookup): Promise<void> {
    const missing = specs
      .flatMap((s) => s.topics)
      .filter((t) => !handlerFor(t.topic.key))
      .map((t) => `${t.topic.key} (topic ${t.topic.name})`);
    if (missing.length > 0) throw new Error(`${this.opts.stage}: no handler for ${missing.join('; ')}`);
    const deadLetters = new DeadLetterPublisher(this.opts.producer, this.opts.codec);
    const onFatal = this.opts.onFatal ?? ((e: unknown) => this.logger.error(`fatal: ${String(e)}`));
    for (const spec of specs) {
      const topics = new Map<string, ConsumedTopic>(
        spec.topics.map((t) => [t.topic.name, consumedTopic(t, handlerFor)]),
      );
      const c = new StageConsumer(spec, topics, {
        stage: this.opts.stage,
        kafka: this.opts.kafka,
        producer: this.opts.producer,
        deadLetters,
        tally: this.tally,
        codec: this.opts.codec,
        onFatal,
        retryInitialMs: this.opts.retryInitialMs ?? 500,
        retryMaxMs: this.opts.retryMaxMs ?? 30_000,
        onlyConnection: this.opts.onlyConnection ?? null,
      });
      this.consumers.push(c);
      await c.start();
    }
    this.started = true;
  }

  /** Leaves the groups (their partitions move to the other replicas at once) after the slice in hand is committed. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    const t = Date.now();
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.logger.log(`stopped consuming (left ${this.consumers.length} group(s) in ${Date.now() - t} ms)`);
  }

  /** The consumers as one named health check each for readiness and liveness (see libs/ops HealthProbe). */
  readinessCheck(): { up: boolean; detail: { consumers: readonly ConsumerHealth[] } } {
    const h = this.health();
    return { up: h.ready, detail: { consumers: h.consumers } };
  }

  livenessCheck(): { up: boolean; detail: { consumers: readonly ConsumerHealth[] } } {
    const h = this.health();
    return { up: h.live, detail: { consumers: h.consumers } };
  }

  health(now = Date.now()): StageHealth {
    const consumers = this.consumers.map((c) => c.health(now));
    const worst = Math.max(0, ...consumers.map((c) => c.secondsSinceProgress)) * 1000;
    this.tally.secondsSinceProgress.set({ stage: this.opts.stage }, worst / 1000);
    const crashed = consumers.some((c) => c.crashed);
    return {
      ready:
        this.started && !crashed && consumers.every((c) => c.running && !c.failing) && worst < this.opts.stallReadyMs,
      live: !crashed && worst < this.opts.stallLiveMs,
      consumers,
    };
  }
}

/**
 * A topic with its handler, as the loop sees it. The loop decodes each record with the topic's
 * own key (AvroCodec.decodeAs), so the handler and describe get exactly their record type.
 */
function consumedTopic(t: AnyStageTopic, handlerFor: HandlerLookup): ConsumedTopic {
  return {
    key: t.topic.key,
    handler: handlerFor(t.topic.key) as ConsumedTopic['handler'],
    describe: t.describe as ConsumedTopic['describe'],
  };
}
