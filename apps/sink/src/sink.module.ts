import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '@iks/config';
import { StageServer } from '@iks/stage';
import { exitOnFatal, HEALTH_PROBE, HealthController, loggerParams, METRICS_REGISTRY, MetricsController, metricsRegistryProvider } from '@iks/ops';
import { SinkRunner } from '@iks/sink';
import { SinkController } from './sink.controller';

export const CONFIG = Symbol('CONFIG');

@Module({})
export class SinkModule {
  static forRoot(env: NodeJS.ProcessEnv): DynamicModule {
    const config = loadConfig(env, 'sink');
    return {
      module: SinkModule,
      imports: [LoggerModule.forRoot(loggerParams('sink', config.logLevel, config.logFormat)), TerminusModule.forRoot({ logger: false })],
      controllers: [SinkController, HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        metricsRegistryProvider('sink'),
        {
          provide: SinkRunner,
          inject: [CONFIG, METRICS_REGISTRY],
          useFactory: (c: Config, registry: Registry) => new SinkRunner(c, undefined, registry, exitOnFatal('sink')),
        },
        { provide: HEALTH_PROBE, useExisting: SinkRunner },
        { provide: StageServer, inject: [SinkRunner], useFactory: (s: SinkRunner) => new StageServer(s) },
      ],
    };
  }
}
