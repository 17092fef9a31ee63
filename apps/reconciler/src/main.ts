import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { CONFIG, ConfigError, type Config } from '@iks/config';
import { ReconcilerModule } from './reconciler.module';

/**
 * The reconciler app: reconciles recent windows on a schedule and each outage ingest reports
 * (README "Gaps"); /health/live, /health/ready (red, with the reason, while Intercom or Kafka
 * cannot be used) and /metrics on RECONCILER_HTTP_PORT. A bad configuration exits 1 naming the
 * variables.
 */
async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(
    ReconcilerModule.forRoot(process.env),
    new FastifyAdapter(),
    { bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  const { httpPort, httpHost } = app.get<Config>(CONFIG).reconciler;
  if (httpPort) await app.listen(httpPort, httpHost);
  else await app.init();
  app
    .get(Logger)
    .log(`ready${httpPort ? ` (health and metrics on http://${httpHost}:${httpPort})` : ''}`, 'reconciler');
}

main().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`reconciler: ${e.message}\n`);
  else process.stderr.write(`reconciler: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
