import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@iks/config';
import { createOpsApp } from '@iks/ops';
import { intercomSourceFor } from './directory/intercom-api.source';
import { TransformerRunner } from './pipeline/transformer.runner';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env, 'transformer');
  const logger = new Logger('transformer');
  const source = intercomSourceFor(config);
  if (!source.enabled) logger.warn('INTERCOM_ACCESS_TOKEN is not set: contacts are known from contact.* webhooks only (no GET /contacts/{id}, no admin/team names)');
  const runner = new TransformerRunner(config, source);
  const ops = await createOpsApp({ isReady: () => runner.isReady, metricsText: () => runner.metricsText() }, config.logLevel);
  if (config.transformer.httpPort) await ops.listen(config.transformer.httpPort, '0.0.0.0');
  await runner.start();
  logger.log(`ready${config.transformer.httpPort ? ` (health and metrics on :${config.transformer.httpPort})` : ''}`);
  const shutdown = async (signal: string) => {
    logger.log(`${signal}: stopping`);
    await runner.stop();
    await ops.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

bootstrap().catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`transformer: ${e.message}\n`);
  else process.stderr.write(`transformer: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
