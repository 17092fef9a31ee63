import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@iks/config';
import { createOpsApp } from '@iks/ops';
import { SinkRunner } from './sink.runner';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env, 'sink');
  const logger = new Logger('sink');
  const runner = new SinkRunner(config);
  const ops = await createOpsApp({ isReady: () => runner.isReady, metricsText: () => runner.metricsText() }, config.logLevel);
  if (config.sink.httpPort) await ops.listen(config.sink.httpPort, '0.0.0.0');
  await runner.start();
  logger.log(`ready${config.sink.httpPort ? ` (health and metrics on :${config.sink.httpPort})` : ''}`);
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
  if (e instanceof ConfigError) process.stderr.write(`sink: ${e.message}\n`);
  else process.stderr.write(`sink: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
