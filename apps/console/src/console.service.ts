import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { DeliveryReadModel, GapsModel, PipelineLag, ReadModelFeed, SharedAdmin, SinkThrottling } from '@iks/console';
import { allTopics, PRODUCER, sendBack, topicName } from '@iks/kafka';
import { REPLAYABLE } from '@iks/replay';
import { METRICS, metricName, type MetricKey } from '@iks/mapping';
import { ConsoleReplay } from './console-replay';
import type { MetricRow } from './page-models';

export class ReprocessError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ReprocessError';
  }
}

/** The console's state: the read models and their feed, the lag reader, and the actions (reprocess, replay). */
@Injectable()
export class ConsoleService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ConsoleService.name);
  /** The producer's first connect (reprocess): the console only produces when an operator acts (a reprocess, a connection change). */
  private connected: Promise<void> | null = null;

  constructor(
    @Inject(CONFIG) readonly config: Config,
    @Inject(PRODUCER) private readonly producer: Producer,
    readonly model: DeliveryReadModel,
    readonly gaps: GapsModel,
    readonly feed: ReadModelFeed,
    readonly admin: SharedAdmin,
    readonly lag: PipelineLag,
    readonly replay: ConsoleReplay,
    readonly throttling: SinkThrottling,
  ) {}

  /** Reads the topics from the beginning (the read model is rebuilt on every start) and starts scraping the sinks. */
  async onModuleInit(): Promise<void> {
    await this.feed.start();
    this.throttling.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.throttling.stop();
    await this.replay.stop();
    await this.feed.stop();
    await this.admin.close();
    // connected by a reprocess, or by the ConnectionStore of the Connections page
    await this.producer.disconnect().catch(() => undefined);
  }

  get canAct(): boolean {
    return this.config.console.operatorToken !== null;
  }

  /** The nine Intercom metrics (renamed as METRIC_NAME_OVERRIDES says), then any other metric seen. */
  metricRows(): MetricRow[] {
    const names = (Object.keys(METRICS) as MetricKey[]).map((k) => metricName(k, this.config.transformer.metricNames));
    const ours = new Set(names);
    const others = [...this.model.metrics.keys()].filter((n) => !ours.has(n)).sort();
    return [...names.map((name) => ({ name, intercom: true })), ...others.map((name) => ({ name, intercom: false }))];
  }

  /** Topics the Pipeline page can replay. */
  replayTopics(): string[] {
    return REPLAYABLE.map((k) => topicName(k, this.config.kafka.topicPrefix));
  }

  /** Sends one dead letter back to the topic it came from (the CLI's `dlq reprocess`, for one letter). */
  async reprocess(at: string): Promise<string> {
    const l = this.model.letters.get(at);
    if (!l) throw new ReprocessError(`no dead letter ${at} in the read model`, 404);
    if (l.erased) throw new ReprocessError(`${at} is about a deleted person: its record is no longer kept`, 410);
    if (!l.letter) throw new ReprocessError(`${at} cannot be decoded: ${l.decodeError}`, 422);
    const known = new Set(allTopics(this.config.kafka.topicPrefix).map((t) => t.name));
    if (!known.has(l.letter.original_topic))
      throw new ReprocessError(`${l.letter.original_topic} is not one of this pipeline's topics`, 422);
    this.connected ??= this.producer.connect().catch((e: unknown) => {
      this.connected = null;
      throw e;
    });
    await this.connected;
    await sendBack(this.producer, [{ at, letter: l.letter }]);
    l.reprocessedAt = Date.now();
    this.logger.log(`reprocessed ${at}: sent back to ${l.letter.original_topic}`);
    return l.letter.original_topic;
  }
}
