import { Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { ConfigModule, type Config } from '@iks/config';
import { CONNECTIONS, ConnectionsModule, type ConnectionDirectory } from '@iks/connections';
import { NotificationWriter, NotificationWriterModule } from '@iks/ingest';
import { HEALTH_PROBE, HealthController, METRICS_REGISTRY, MetricsController, OpsModule } from '@iks/ops';
import { IngestHealth } from './health/ingest-health';
import { IngestMetrics } from './ingest-metrics';
import { OpsListener } from './ops-listener';
import { WebhookController } from './webhook/webhook.controller';

export interface IngestModuleOptions {
  /** The connections ingest routes by (default: ConnectionsModule's, pipeline.connections.v1 and the environment's default). */
  readonly connections?: ConnectionDirectory;
}

@Module({})
export class IngestModule implements OnModuleInit, OnApplicationShutdown {
  constructor(private readonly writer: NotificationWriter) {}

  static forRoot(config: Config, opts: IngestModuleOptions = {}): DynamicModule {
    return {
      module: IngestModule,
      imports: [
        ConfigModule.forRoot(config),
        OpsModule.forRoot({ app: 'ingest' }),
        NotificationWriterModule.forRoot(),
        ...(opts.connections ? [] : [ConnectionsModule]),
      ],
      controllers: [WebhookController, HealthController, MetricsController],
      providers: [
        {
          provide: IngestMetrics,
          inject: [METRICS_REGISTRY],
          useFactory: (registry: Registry) => new IngestMetrics(registry),
        },
        ...(opts.connections ? [{ provide: CONNECTIONS, useValue: opts.connections }] : []),
        { provide: HEALTH_PROBE, useClass: IngestHealth },
        OpsListener,
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
