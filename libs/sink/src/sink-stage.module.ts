import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { KAFKA, KafkaModule, topicName } from '@iks/kafka';
import {
  createKlaviyoDelivery,
  KlaviyoHttpClient,
  RateBudget,
  type EndpointGroup,
  type KlaviyoDelivery,
} from '@iks/klaviyo';
import { createContext } from '@iks/ops';
import { StageModule } from '@iks/stage';
import { BudgetShare } from './budget-share';
import { SinkMetrics } from './sink-metrics';
import { SinkRunner, sinkTopicsOf, type SinkRunOptions } from './sink.runner';
import { KLAVIYO_DELIVERY, RATE_BUDGET, SINK_ABORT, SINK_RUN } from './sink.tokens';

export interface SinkStageOptions {
  /** What to deliver (default: the live sink, all three topics). */
  readonly run?: SinkRunOptions;
  /** Default: Klaviyo's limits with 200 ms of margin per window. */
  readonly budget?: RateBudget;
  /** A consumer crashed for good; default: logged (the app exits, see apps/sink). */
  readonly onFatal?: (error: unknown) => void;
}

/** Endpoint groups the replicas share by the partitions of the topic that feeds each (budget-share.ts). */
const FED: Readonly<Record<'events' | 'profiles' | 'deletions', readonly EndpointGroup[]>> = {
  events: ['events-bulk', 'events'],
  profiles: ['profile-import'],
  deletions: ['data-privacy-deletion'],
};

/**
 * The sink stage: SinkRunner and what it uses (Kafka, the stage runtime, the Klaviyo client,
 * the rate budget and this replica's share of it, the sink's metrics). The app serves it; the
 * CLI replay and dlq, the tests and the benches boot it in a context (sinkContext). Needs
 * ConfigModule and OpsModule at the root.
 */
@Module({})
export class SinkStageModule {
  static forRoot(opts: SinkStageOptions = {}): DynamicModule {
    const run = opts.run ?? {};
    return {
      module: SinkStageModule,
      imports: [KafkaModule, StageModule.forRoot({ stage: 'sink', onFatal: opts.onFatal })],
      providers: [
        { provide: SINK_RUN, useValue: run },
        { provide: SINK_ABORT, useFactory: () => new AbortController() },
        SinkMetrics,
        {
          provide: KlaviyoHttpClient,
          inject: [CONFIG],
          useFactory: (c: Config) => {
            if (!c.klaviyo.apiKey) throw new Error('KLAVIYO_API_KEY is required by the sink');
            return new KlaviyoHttpClient({
              apiKey: c.klaviyo.apiKey.reveal(),
              baseUrl: c.klaviyo.baseUrl,
              revision: c.klaviyo.revision,
              timeoutMs: c.sink.requestTimeoutMs,
            });
          },
        },
        // 200 ms of margin: a request granted just inside our window can land in Klaviyo's next one
        { provide: RATE_BUDGET, useFactory: () => opts.budget ?? new RateBudget({ windowMarginMs: 200 }) },
        {
          provide: KLAVIYO_DELIVERY,
          inject: [CONFIG, KlaviyoHttpClient, RATE_BUDGET, SinkMetrics, SINK_ABORT],
          useFactory: (
            c: Config,
            client: KlaviyoHttpClient,
            budget: RateBudget,
            metrics: SinkMetrics,
            abort: AbortController,
          ): KlaviyoDelivery =>
            createKlaviyoDelivery({
              client,
              budget,
              retry: { maxElapsedMs: c.sink.retryMaxMs, maxDelayMs: c.sink.retryMaxDelayMs },
              batch: { maxCount: c.sink.batchMaxEvents, maxWaitMs: c.sink.batchMaxWaitMs },
              signal: abort.signal,
              onRetry: (operation) => metrics.retried(operation),
              onSystemic: () => metrics.keyRefused.set(1),
              onRecovered: () => metrics.keyRefused.set(0),
              onResponse: (operation, status, seconds) =>
                metrics.requestSeconds.observe({ operation, status: String(status) }, seconds),
            }),
        },
        {
          provide: BudgetShare,
          inject: [CONFIG, KAFKA, RATE_BUDGET],
          useFactory: (c: Config, kafka: Kafka, budget: RateBudget) => {
            const groupTopics: Partial<Record<EndpointGroup, string>> = {};
            for (const t of sinkTopicsOf(run))
              for (const g of FED[t]) groupTopics[g] = topicName(t, c.kafka.topicPrefix);
            return new BudgetShare(budget, kafka, run.groupId ?? c.sink.groupId, groupTopics);
          },
        },
        SinkRunner,
      ],
      exports: [SinkRunner],
    };
  }
}

/** SinkStageModule in a Nest application context with `config` (CLI replay and dlq, tests, benches): the app's very wiring. */
export async function sinkContext(
  config: Config,
  opts: SinkStageOptions & { readonly registry?: Registry } = {},
): Promise<INestApplicationContext> {
  return createContext(config, 'sink', SinkStageModule.forRoot(opts), { registry: opts.registry });
}

/** The runner of a fresh sink context (`runner.stop()` stops what it started). */
export async function createSinkRunner(
  config: Config,
  opts: SinkStageOptions & { readonly registry?: Registry } = {},
): Promise<SinkRunner> {
  return (await sinkContext(config, opts)).get(SinkRunner);
}
