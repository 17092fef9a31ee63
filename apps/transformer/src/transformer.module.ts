import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '@iks/config';
import { intercomSourceFor } from '@iks/directory';
import { StageServer } from '@iks/stage';
import { exitOnFatal, HEALTH_PROBE, HealthController, loggerParams, METRICS_REGISTRY, MetricsController, metricsRegistryProvider } from '@iks/ops';
import { TransformerRunner } from '@iks/transformer';
import { TransformerController } from './transformer.controller';

export const CONFIG = Symbol('CONFIG');

@Module({})
export class TransformerModule {
  static forRoot(env: NodeJS.ProcessEnv): DynamicModule {
    const config = loadConfig(env, 'transformer');
    return {
      module: TransformerModule,
      imports: [LoggerModule.forRoot(loggerParams('transformer', config.logLevel, config.logFormat)), TerminusModule.forRoot({ logger: false })],
      controllers: [TransformerController, HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        metricsRegistryProvider('transformer'),
        {
          provide: TransformerRunner,
          inject: [CONFIG, METRICS_REGISTRY],
          useFactory: (c: Config, registry: Registry) => {
            const source = intercomSourceFor(c);
            if (!source.enabled) {
              new Logger('transformer').warn('INTERCOM_ACCESS_TOKEN is not set: contacts are known from contact.* webhooks only (no GET /contacts/{id}, no admin/team names)');
            }
            return new TransformerRunner(c, source, registry, exitOnFatal('transformer'));
          },
        },
        { provide: HEALTH_PROBE, useExisting: TransformerRunner },
        { provide: StageServer, inject: [TransformerRunner], useFactory: (t: TransformerRunner) => new StageServer(t) },
      ],
    };
  }
}
