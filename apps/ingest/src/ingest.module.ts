import { Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Config } from '@iks/config';
import { HealthController } from './health/health.controller';
import { IngestMetrics } from './ingest-metrics';
import { CONFIG } from './tokens';
import { NotificationWriter } from '@iks/kafka';
import { WebhookController } from './webhook/webhook.controller';

@Module({})
export class IngestModule implements OnModuleInit, OnApplicationShutdown {
  constructor(private readonly writer: NotificationWriter) {}

  static forRoot(config: Config): DynamicModule {
    return {
      module: IngestModule,
      controllers: [WebhookController, HealthController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: NotificationWriter, useValue: new NotificationWriter(config) },
        IngestMetrics,
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
