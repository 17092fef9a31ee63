import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Config } from '@iks/config';
import { logLevels } from '@iks/ops';
import { IngestModule } from './ingest.module';

/**
 * Builds the ingest HTTP app on Fastify. Bodies are kept as raw bytes (the signature is an
 * HMAC of the exact bytes Intercom sent); bodies over the limit get Fastify's 413.
 */
export async function createIngestApp(config: Config, logger: false | undefined = undefined): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.ingest.bodyLimitBytes });
  const app = await NestFactory.create<NestFastifyApplication>(IngestModule.forRoot(config), adapter, {
    bodyParser: false,
    logger: logger === false ? false : logLevels(config.logLevel),
  });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.ingest.bodyLimitBytes }, (_req, body, done) => done(null, body));
  app.enableShutdownHooks();
  return app;
}
