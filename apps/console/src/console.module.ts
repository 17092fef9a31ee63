import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import type { Kafka } from 'kafkajs';
import { CONFIG, ConfigModule, type Config } from '@iks/config';
import { ConsoleReadModelModule, SharedAdmin } from '@iks/console';
import { KAFKA } from '@iks/kafka';
import { HEALTH_PROBE, HealthController, MetricsController, OpsModule } from '@iks/ops';
import { ConsoleController } from './console.controller';
import { ConsoleHealth } from './console-health';
import { ConsoleMetrics } from './console-metrics';
import { ConsoleReplay } from './console-replay';
import { ConsoleService } from './console.service';

/** Prometheus text at /ops/metrics: the console's own /metrics is its Metrics page. */
@Module({ controllers: [MetricsController] })
export class ConsoleOpsModule {}

/**
 * The console: the validated Config (ConfigModule), logging, health and metrics (OpsModule),
 * Kafka, producer and codec (KafkaModule, through ConsoleReadModelModule) as in the other apps;
 * the read models and their feed from libs/console; the pages and the actions here.
 */
@Module({})
export class ConsoleModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [
        ConfigModule.forRoot(config),
        OpsModule.forRoot({ app: 'console' }),
        ConsoleReadModelModule,
        ConsoleOpsModule,
        RouterModule.register([{ path: 'ops', module: ConsoleOpsModule }]),
      ],
      controllers: [ConsoleController, HealthController],
      providers: [
        {
          provide: ConsoleReplay,
          inject: [KAFKA, SharedAdmin, CONFIG],
          useFactory: (kafka: Kafka, admin: SharedAdmin, c: Config) => new ConsoleReplay(kafka, admin, c),
        },
        ConsoleService,
        ConsoleMetrics,
        { provide: HEALTH_PROBE, useClass: ConsoleHealth },
      ],
    };
  }
}
