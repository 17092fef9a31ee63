import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { loggerParams } from './logging';
import { createMetricsRegistry, METRICS_REGISTRY } from './metrics';

export interface OpsModuleOptions {
  /** The `app` label of every metric and the logger's name. */
  readonly app: string;
  /**
   * true for a served app: nestjs-pino logging (LOG_LEVEL, LOG_FORMAT, secrets redacted) and
   * terminus for its HealthController. false for a CLI, test or bench context (Nest's logger).
   */
  readonly http?: boolean;
  /** A registry of the caller's (a test reading metrics); default: a fresh one, with the process metrics and the app label for a served app. */
  readonly registry?: Registry;
}

/**
 * Logging, health and metrics for an app or a context: the app's Prometheus registry
 * (METRICS_REGISTRY, global), and for a served app nestjs-pino and terminus (the app module
 * declares HealthController, MetricsController and its HEALTH_PROBE).
 */
@Module({})
export class OpsModule {
  static forRoot(opts: OpsModuleOptions): DynamicModule {
    const http = opts.http ?? true;
    const registry = opts.registry;
    const imports = http
      ? [
          LoggerModule.forRootAsync({
            inject: [CONFIG],
            useFactory: (c: Config) => loggerParams(opts.app, c.logLevel, c.logFormat),
          }),
          TerminusModule.forRoot({ logger: false }),
        ]
      : [];
    return {
      module: OpsModule,
      global: true,
      imports,
      // a served app's registry has the process metrics and its app label; a context's is bare (as a runner's was)
      providers: [
        {
          provide: METRICS_REGISTRY,
          useFactory: () => registry ?? (http ? createMetricsRegistry(opts.app) : new Registry()),
        },
      ],
      exports: [METRICS_REGISTRY, ...(http ? [TerminusModule] : [])],
    };
  }
}
