import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Config } from '@iks/config';
import { Logger } from 'nestjs-pino';
import { IngestMetrics } from './ingest-metrics';
import { IngestModule, type IngestModuleOptions } from './ingest.module';
import { OpsListener } from './ops-listener';
import { BodyTooLargeError, drainLimitFor, readBoundedBody } from './webhook/raw-body';

/** Paths of the operations listener (INGEST_METRICS_PORT) when it is on. */
const OPS_PATH = /^\/(metrics|health\/(live|ready))(\?|$)/;
const WEBHOOK_ROUTE = '/webhooks/intercom';

/**
 * Builds the ingest HTTP app on Fastify. Bodies are kept as raw bytes (the signature is an
 * HMAC of the exact bytes Intercom sent); a body over INGEST_BODY_LIMIT_BYTES gets 413 once it
 * was sent whole (webhook/raw-body.ts), so the sender reads the answer rather than a reset.
 * INGEST_REQUEST_TIMEOUT_MS bounds a whole request (headers and body) and an idle connection:
 * Node checks requestTimeout every connectionsCheckingInterval (30 s by default), so that is
 * shortened too, or a slow body would hold its connection far longer than the setting says.
 * Logs go through nestjs-pino (LOG_FORMAT), unless `logger` is false (tests, benches).
 */
export async function createIngestApp(
  config: Config,
  logger: false | undefined = undefined,
  opts: IngestModuleOptions = {},
): Promise<NestFastifyApplication> {
  const timeout = config.ingest.requestTimeoutMs;
  const adapter = new FastifyAdapter({
    bodyLimit: config.ingest.bodyLimitBytes,
    requestTimeout: timeout,
    connectionTimeout: timeout,
    http: { headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.min(1000, timeout) },
  });
  const app = await NestFactory.create<NestFastifyApplication>(IngestModule.forRoot(config, opts), adapter, {
    bodyParser: false,
    // a provider that cannot be made throws to the caller (main prints it and exits 1; a spec
    // sees the error) instead of Nest calling process.exit(1) with the logger off
    abortOnError: false,
    ...(logger === false ? { logger: false } : { bufferLogs: true }),
  });
  if (logger !== false) app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(IngestMetrics);
  const ops = app.get(OpsListener);
  // the webhook ack time, from Fastify's own request start (reply.elapsedTime): no timer of ours per request
  fastify.addHook('onResponse', (req, reply, done) => {
    if (req.routeOptions.url === WEBHOOK_ROUTE && req.method === 'POST' && !ops.has(req.raw))
      metrics.observeAck(reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  fastify.removeAllContentTypeParsers();
  // not Fastify's own limit (parseAs + bodyLimit): it answers 413 as soon as Content-Length is over
  // and closes while the sender is still sending, which the sender may see as a reset (raw-body.ts)
  const limit = config.ingest.bodyLimitBytes;
  const drainLimit = drainLimitFor(limit);
  fastify.addContentTypeParser('*', (req, payload, done) =>
    readBoundedBody(payload, req.headers['content-length'], limit, drainLimit, (err, body) => {
      if (err instanceof BodyTooLargeError && req.routeOptions.url === WEBHOOK_ROUTE)
        metrics.countRejected('too_large');
      done(err, body);
    }),
  );
  if (config.ingest.metricsPort !== 0) {
    // /metrics and health live on the operations listener only; the public webhook port does not show them
    fastify.addHook('onRequest', async (req, reply) => {
      if (OPS_PATH.test(req.url) !== ops.has(req.raw)) {
        await reply
          .code(404)
          .send({ statusCode: 404, error: 'Not Found', message: `Route ${req.method}:${req.url} not found` });
      }
    });
    fastify.addHook('onClose', () => ops.close());
  }
  app.enableShutdownHooks();
  return app;
}

/**
 * INGEST_METRICS_HOST:INGEST_METRICS_PORT, a second listener that serves /metrics and
 * /health/* of the same app (and nothing else), so they can stay off the public webhook port.
 * Call after app.init(); app.close() closes it.
 */
export async function listenOps(app: NestFastifyApplication, config: Config): Promise<Server> {
  return app.get(OpsListener).listen(app.getHttpAdapter().getInstance(), config);
}
