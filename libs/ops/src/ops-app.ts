import { Controller, Get, Header, HttpException, HttpStatus, Inject, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LogLevel } from '@nestjs/common';

const ORDER: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

/** LOG_LEVEL (error | warn | log | debug | verbose) → the Nest levels to print. */
export function logLevels(level: LogLevel): LogLevel[] {
  return ORDER.slice(0, ORDER.indexOf(level) + 1);
}

/** What a worker app (transformer, sink) exposes to operators. */
export interface OpsProbe {
  /** Connected and consuming. */
  isReady(): boolean;
  /** Prometheus text exposition. */
  metricsText(): string;
}

const PROBE = Symbol('PROBE');

@Controller()
class OpsController {
  constructor(@Inject(PROBE) private readonly probe: OpsProbe) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  ready() {
    if (!this.probe.isReady()) throw new HttpException({ status: 'unavailable' }, HttpStatus.SERVICE_UNAVAILABLE);
    return { status: 'ok' };
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4')
  metrics() {
    return this.probe.metricsText();
  }
}

@Module({})
class OpsModule {
  static forProbe(probe: OpsProbe): DynamicModule {
    return { module: OpsModule, controllers: [OpsController], providers: [{ provide: PROBE, useValue: probe }] };
  }
}

/** GET /health/live, /health/ready and /metrics for a worker app, on Fastify. */
export async function createOpsApp(probe: OpsProbe, level: LogLevel = 'log'): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(OpsModule.forProbe(probe), new FastifyAdapter(), { logger: logLevels(level) });
  app.enableShutdownHooks();
  return app;
}
