import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import type { Config } from '@iks/config';
import { DeliveryReadModel, GapsModel, PipelineLag, ReadModelFeed, SharedAdmin, SinkThrottling } from '@iks/console';
import { AvroCodec, createKafka } from '@iks/kafka';
import {
  HEALTH_PROBE,
  HealthController,
  loggerParams,
  METRICS_REGISTRY,
  MetricsController,
  metricsRegistryProvider,
} from '@iks/ops';
import { ConsoleController } from './console.controller';
import { ConsoleHealth } from './console-health';
import { ConsoleMetrics } from './console-metrics';
import { ConsoleReplay } from './console-replay';
import { ConsoleService } from './console.service';
import { CONFIG, KAFKA } from './tokens';

/** Prometheus text at /ops/metrics: the console's own /metrics is its Metrics page. */
@Module({
  controllers: [MetricsController],
  providers: [metricsRegistryProvider('console')],
  exports: [METRICS_REGISTRY],
})
export class ConsoleOpsModule {}

/**
 * The console: logging, health and metrics from libs/ops as in the other apps; the read models
 * (libs/console), their feed and the actions built here by Nest from the validated configuration.
 */
@Module({})
export class ConsoleModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [
        LoggerModule.forRoot(loggerParams('console', config.logLevel, config.logFormat)),
        TerminusModule.forRoot({ logger: false }),
        ConsoleOpsModule,
        RouterModule.register([{ path: 'ops', module: ConsoleOpsModule }]),
      ],
      controllers: [ConsoleController, HealthController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: KAFKA, inject: [CONFIG], useFactory: (c: Config) => createKafka(c.kafka) },
        { provide: DeliveryReadModel, useFactory: () => new DeliveryReadModel() },
        { provide: GapsModel, useFactory: () => new GapsModel() },
        { provide: SharedAdmin, inject: [KAFKA], useFactory: (kafka: Kafka) => new SharedAdmin(kafka) },
        {
          provide: ReadModelFeed,
          inject: [KAFKA, CONFIG, DeliveryReadModel, GapsModel, SharedAdmin],
          useFactory: (kafka: Kafka, c: Config, model: DeliveryReadModel, gaps: GapsModel, admin: SharedAdmin) =>
            new ReadModelFeed(kafka, new AvroCodec(c.kafka), model, gaps, c, admin),
        },
        {
          provide: PipelineLag,
          inject: [SharedAdmin, CONFIG],
          useFactory: (admin: SharedAdmin, c: Config) => new PipelineLag(admin, c),
        },
        {
          provide: ConsoleReplay,
          inject: [KAFKA, SharedAdmin, CONFIG],
          useFactory: (kafka: Kafka, admin: SharedAdmin, c: Config) => new ConsoleReplay(kafka, admin, c),
        },
        {
          provide: SinkThrottling,
          inject: [CONFIG],
          useFactory: (c: Config) => new SinkThrottling(c.console.sinkMetricsUrls),
        },
        ConsoleService,
        ConsoleMetrics,
        { provide: HEALTH_PROBE, useClass: ConsoleHealth },
      ],
    };
  }
}
