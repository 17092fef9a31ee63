import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '@iks/config';
import { HEALTH_PROBE, HealthController, loggerParams, METRICS_REGISTRY, MetricsController, metricsRegistryProvider } from '@iks/ops';
import { ReconcilerRunner } from '@iks/reconciler';

export const CONFIG = Symbol('CONFIG');

/** The reconciler: continuous `reconcile --heal` (libs/reconciler), health and metrics (libs/ops). */
@Module({})
export class ReconcilerModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(ReconcilerRunner) private readonly runner: ReconcilerRunner) {}

  static forRoot(env: NodeJS.ProcessEnv): DynamicModule {
    const config = loadConfig(env, 'reconciler');
    return {
      module: ReconcilerModule,
      imports: [LoggerModule.forRoot(loggerParams('reconciler', config.logLevel, config.logFormat)), TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        metricsRegistryProvider('reconciler'),
        { provide: ReconcilerRunner, inject: [CONFIG, METRICS_REGISTRY], useFactory: (c: Config, registry: Registry) => new ReconcilerRunner(c, registry) },
        { provide: HEALTH_PROBE, useExisting: ReconcilerRunner },
      ],
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }
}
