import { Module, type DynamicModule } from '@nestjs/common';
import type { Config } from './config';

/** The one validated Config of the process (loadConfig), for `@Inject(CONFIG)`. */
export const CONFIG = Symbol('CONFIG');

/**
 * Provides the validated Config to every module of an app or context (global): the config is
 * loaded (and a bad variable reported) before any module is built, never inside a provider.
 */
@Module({})
export class ConfigModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: CONFIG, useValue: config }],
      exports: [CONFIG],
    };
  }
}
