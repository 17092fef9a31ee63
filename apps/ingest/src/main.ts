import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@iks/config';
import { createIngestApp, listenOps } from './ingest.app';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env, 'ingest');
  const app = await createIngestApp(config);
  const logger = new Logger('ingest');
  if (config.ingest.usesLocalDevSecret) {
    logger.warn(
      `INTERCOM_CLIENT_SECRET is not set: accepting webhooks signed with the PUBLISHED local development secret, ` +
        `only because ingest binds the loopback address ${config.ingest.host}. Set INTERCOM_CLIENT_SECRET for anything else.`,
    );
  }
  await app.listen(config.ingest.port, config.ingest.host);
  logger.log(`ready: POST http://${config.ingest.host}:${config.ingest.port}/webhooks/intercom`);
  if (config.ingest.metricsPort !== 0) {
    await listenOps(app, config);
    logger.log(
      `/metrics and /health/* on http://${config.ingest.metricsHost}:${config.ingest.metricsPort} (not on the webhook port)`,
    );
  }
}

bootstrap().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`ingest: ${e.message}\n`);
  else process.stderr.write(`ingest: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
