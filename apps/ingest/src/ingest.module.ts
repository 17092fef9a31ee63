import { Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import { NotificationWriter } from '@iks/ingest';
import { HEALTH_PROBE, HealthController, loggerParams, METRICS_REGISTRY, MetricsController, metricsRegistryProvider } from '@iks/ops';
import { IngestHealth } from './health/ingest-health';
import { IngestMetrics } from './ingest-metrics';
import { CONFIG } from './tokens';
import { WebhookController } from './webhook/webhook.controller';

@Module({})
export class IngestModule implements OnModuleInit, OnApplicationShutdown {
  constructor(private readonly writer: NotificationWriter) {}

  static forRoot(config: Config): DynamicModule {
    return {
      module: IngestModule,
      imports: [LoggerModule.forRoot(loggerParams('ingest', config.logLevel, config.logFormat)), TerminusModule.forRoot({ logger: false })],
      controllers: [WebhookController, HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: NotificationWriter, useValue: new NotificationWriter(config) },
        metricsRegistryProvider('ingest'),
        { provide: IngestMetrics, inject: [METRICS_REGISTRY], useFactory: (registry: Registry) => new IngestMetrics(registry) },
        { provide: HEALTH_PROBE, useClass: IngestHealth },
      ],
    };
  }

  async onModuleInit(): Promise<void> {
    await this.writer.start();
  }

  /** SIGTERM: Nest has closed the HTTP server (no new requests); flush what was accepted. */
  async onApplicationShutdown(): Promise<void> {
    await this.writer.stop();
  }
}
