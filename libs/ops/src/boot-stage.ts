import { type CustomTransportStrategy } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DynamicModule } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { ConfigError } from '@iks/config';

export interface StageAppOptions {
  readonly name: string;
  /** The app's root module, built from the validated configuration (throws ConfigError). */
  readonly module: () => DynamicModule;
  /** The transport strategy the root module provides (a StageServer). */
  readonly strategy: (app: NestFastifyApplication) => CustomTransportStrategy;
  readonly http: (app: NestFastifyApplication) => { readonly port: number; readonly host: string };
}

/**
 * Boots a consuming stage (transformer, sink) as a Nest hybrid app: Fastify for
 * /health and /metrics, the stage's consumers as a microservice transport. Health answers
 * (red) while the stage loads; SIGTERM/SIGINT close the consumers (leaving the group, so the
 * partitions move at once) and then the process. A bad configuration exits 1 naming the
 * variables; a consumer that crashed for good exits 1 so that the supervisor restarts it.
 */
export function bootStage(opts: StageAppOptions): void {
  const boot = async () => {
    const app = await NestFactory.create<NestFastifyApplication>(opts.module(), new FastifyAdapter(), {
      bufferLogs: true,
      abortOnError: false,
    });
    app.useLogger(app.get(Logger));
    app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
    app.connectMicroservice({ strategy: opts.strategy(app) });
    const { port, host } = opts.http(app);
    if (port) await app.listen(port, host);
    else await app.init();
    await app.startAllMicroservices();
    app.get(Logger).log(`ready${port ? ` (health and metrics on http://${host}:${port})` : ''}`, opts.name);
  };
  boot().catch((e) => {
    if (e instanceof ConfigError) process.stderr.write(`${opts.name}: ${e.message}\n`);
    else process.stderr.write(`${opts.name}: failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}

/** What a stage does when its consumer cannot go on: say so and exit, so that it is restarted. */
export function exitOnFatal(name: string): (error: unknown) => void {
  return (error) => {
    process.stderr.write(
      `${name}: consumer stopped for good (${(error as Error)?.message ?? String(error)}); exiting so that the supervisor restarts it\n`,
    );
    setTimeout(() => process.exit(1), 100).unref();
  };
}
