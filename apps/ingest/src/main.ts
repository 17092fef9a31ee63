import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@iks/config';
import { createIngestApp } from './ingest.app';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env, 'ingest');
  const app = await createIngestApp(config);
  await app.listen(config.ingest.port, config.ingest.host);
  new Logger('ingest').log(`ready: POST http://${config.ingest.host}:${config.ingest.port}/webhooks/intercom`);
}

bootstrap().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`ingest: ${e.message}\n`);
  else process.stderr.write(`ingest: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
