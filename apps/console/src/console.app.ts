import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Config } from '@iks/config';
import { logLevels } from '@iks/ops';
import { guard } from './console-auth';
import { ConsoleController } from './console.controller';
import { ConsoleService } from './console.service';

class ConsoleLifecycle implements OnApplicationShutdown {
  constructor(private readonly service: ConsoleService) {}
  async onApplicationShutdown(): Promise<void> {
    await this.service.stop();
  }
}

@Module({})
export class ConsoleModule {
  static forRoot(service: ConsoleService): DynamicModule {
    return {
      module: ConsoleModule,
      controllers: [ConsoleController],
      providers: [
        { provide: ConsoleService, useValue: service },
        { provide: ConsoleLifecycle, useFactory: () => new ConsoleLifecycle(service) },
      ],
    };
  }
}

/** The console on Fastify: read model fed from Kafka, pages guarded by the console token (see console-auth.ts). */
export async function createConsoleApp(config: Config, logger: false | undefined = undefined): Promise<NestFastifyApplication> {
  const service = new ConsoleService(config);
  await service.start();
  const app = await NestFactory.create<NestFastifyApplication>(ConsoleModule.forRoot(service), new FastifyAdapter({ bodyLimit: 64 * 1024 }), {
    logger: logger === false ? false : logLevels(config.logLevel),
  });
  app.getHttpAdapter().getInstance().addHook('onRequest', (req, reply) => guard(req, reply, config.console.token));
  app.enableShutdownHooks();
  return app;
}
