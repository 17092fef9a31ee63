import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Eta } from 'eta';
import { Logger } from 'nestjs-pino';
import type { Config } from '@iks/config';
import { guard } from './console-auth';
import { ConsoleMetrics } from './console-metrics';
import { ConsoleModule } from './console.module';

/**
 * apps/console/views (eta templates) and apps/console/public (CSS, JS), found from the source
 * (ts-jest) and from the build (dist/apps/console/src), which does not copy them.
 */
export function consoleAssets(): { views: string; public: string } {
  const root = [resolve(__dirname, '..'), resolve(__dirname, '../../../../apps/console')].find((d) =>
    existsSync(join(d, 'views', 'layout.eta')),
  );
  if (!root) throw new Error(`the console's templates (apps/console/views) are not found from ${__dirname}`);
  return { views: join(root, 'views'), public: join(root, 'public') };
}

/**
 * The console on Fastify: pages rendered by eta through @fastify/view (escaping by default), CSS
 * and JS served as files from /static/, every request guarded by the console token
 * (console-auth.ts). Logs go through nestjs-pino (LOG_FORMAT) unless `logger` is false (tests).
 * The read model starts reading when the app is initialised (listen or init).
 */
export async function createConsoleApp(
  config: Config,
  logger: false | undefined = undefined,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    ConsoleModule.forRoot(config),
    new FastifyAdapter({ bodyLimit: 64 * 1024 }),
    {
      abortOnError: false, // as ingest: the error reaches the caller, not process.exit(1)
      ...(logger === false ? { logger: false } : { bufferLogs: true }),
    },
  );
  if (logger !== false) app.useLogger(app.get(Logger));
  const assets = consoleAssets();
  await app.register(fastifyView, {
    engine: { eta: new Eta({ views: assets.views, cache: true, autoEscape: true }) },
    templates: assets.views,
    production: true,
  });
  await app.register(fastifyStatic, { root: assets.public, prefix: '/static/', cacheControl: false });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (req, reply) => guard(req, reply, config.console.token));
  const metrics = app.get(ConsoleMetrics);
  fastify.addHook('onResponse', (req, reply, done) => {
    metrics.observePage(req.routeOptions.url ?? 'unknown', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.enableShutdownHooks();
  return app;
}
