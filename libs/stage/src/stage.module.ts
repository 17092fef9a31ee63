import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER } from '@iks/kafka';
import { METRICS_REGISTRY } from '@iks/ops';
import { StageHandlers } from './stage-handlers';
import { StageRuntime } from './stage-runtime';
import type { StageName } from './stage.types';

export interface StageModuleOptions {
  readonly stage: StageName;
  /** A consumer crashed for good (the app exits so that its supervisor restarts it); default: logged. */
  readonly onFatal?: (error: unknown) => void;
}

/**
 * The stage runtime of one stage (its consumers, dead letters, tally and health) over the
 * context's Kafka client, producer and codec, and the discovery of the stage's @OnTopic handlers.
 */
@Module({})
export class StageModule {
  static forRoot(opts: StageModuleOptions): DynamicModule {
    return {
      module: StageModule,
      imports: [DiscoveryModule, KafkaModule],
      providers: [
        StageHandlers,
        {
          provide: StageRuntime,
          inject: [CONFIG, KAFKA, PRODUCER, AvroCodec, METRICS_REGISTRY],
          useFactory: (c: Config, kafka: Kafka, producer: Producer, codec: AvroCodec, registry: Registry) =>
            new StageRuntime({
              stage: opts.stage,
              kafka,
              producer,
              codec,
              registry,
              onFatal: opts.onFatal,
              stallReadyMs: c.stage.stallReadyMs,
              stallLiveMs: c.stage.stallLiveMs,
              retryInitialMs: c.stage.retryInitialMs,
              retryMaxMs: c.stage.retryMaxMs,
              onlyConnection: c.stage.onlyConnection ?? null,
            }),
        },
      ],
      exports: [StageRuntime, StageHandlers],
    };
  }
}
