import {
  ConsoleLogger,
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type LogLevel,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Registry } from 'prom-client';
import { ConfigModule, type Config } from '@iks/config';
import { logLevels } from './logging';
import { OpsModule } from './ops.module';

/** Nest's own boot lines ("Starting Nest application", one per module initialised): not for a CLI's or a test's output. */
const BOOT_CONTEXTS: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'NestApplicationContext',
  'NestApplication',
]);

/** Nest's console logger at LOG_LEVEL, without Nest's boot lines. */
export class ContextLogger extends ConsoleLogger {
  constructor(levels: LogLevel[]) {
    super({ logLevels: levels });
  }

  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && BOOT_CONTEXTS.has(context)) return;
    super.log(message, ...rest);
  }
}

@Module({})
class ContextRootModule {}

/**
 * A Nest application context (no HTTP, no transport) of `module` with the validated Config
 * (ConfigModule) and the ops module (metrics registry): how the CLI, the benches and the tests
 * boot the very modules the apps boot. Close it (or stop what it started) when done.
 */
export async function createContext(
  config: Config,
  app: string,
  module: DynamicModule | Type,
  opts: { readonly registry?: Registry } = {},
): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(
    {
      module: ContextRootModule,
      imports: [ConfigModule.forRoot(config), OpsModule.forRoot({ app, http: false, registry: opts.registry }), module],
    },
    { logger: new ContextLogger(logLevels(config.logLevel)), abortOnError: false },
  );
}

/** A runner that stops what it started: `stop()` and then `afterStop`, once. */
export interface StoppableRunner {
  stop(): Promise<void>;
  afterStop?: () => Promise<void>;
}

/**
 * `token`'s runner from `context`, whose `stop()` closes the context too: its other providers
 * (a connection directory's follower, the ops registry's timers) stop with the runner instead of
 * running on in the process after it.
 */
export function runnerClosingContext<T extends StoppableRunner>(context: INestApplicationContext, token: Type<T>): T {
  const runner = context.get(token);
  runner.afterStop = () => context.close();
  return runner;
}
