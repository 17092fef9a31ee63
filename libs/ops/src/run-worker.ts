import { Logger, type LogLevel } from '@nestjs/common';
import { ConfigError } from '@iks/config';
import { createOpsApp, type OpsProbe } from './ops-app';

export interface Worker extends OpsProbe {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The boot sequence of a Kafka worker app (transformer, sink): health/metrics HTTP, start,
 * SIGTERM/SIGINT → stop consuming, flush, exit. A bad configuration exits 1 naming the variables.
 */
export function runWorker(name: string, setup: () => { worker: Worker; httpPort: number; logLevel: LogLevel }): void {
  const boot = async () => {
    const { worker, httpPort, logLevel } = setup();
    const logger = new Logger(name);
    const ops = await createOpsApp(worker, logLevel);
    if (httpPort) await ops.listen(httpPort, '0.0.0.0');
    await worker.start();
    logger.log(`ready${httpPort ? ` (health and metrics on :${httpPort})` : ''}`);
    const shutdown = async (signal: string) => {
      logger.log(`${signal}: stopping`);
      await worker.stop();
      await ops.close();
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  };
  boot().catch((e) => {
    if (e instanceof ConfigError) process.stderr.write(`${name}: ${e.message}\n`);
    else process.stderr.write(`${name}: failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
