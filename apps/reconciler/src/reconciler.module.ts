import {
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigModule, loadConfig } from '@iks/config';
import { HEALTH_PROBE, HealthController, MetricsController, OpsModule } from '@iks/ops';
import { ReconcilerRunner, ReconcilerStageModule } from '@iks/reconciler';

/** The reconciler: continuous `reconcile --heal` (libs/reconciler), health and metrics (libs/ops). */
@Module({})
export class ReconcilerModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(ReconcilerRunner) private readonly runner: ReconcilerRunner) {}

  static forRoot(env: NodeJS.ProcessEnv): DynamicModule {
    const config = loadConfig(env, 'reconciler');
    return {
      module: ReconcilerModule,
      imports: [
        ConfigModule.forRoot(config),
        OpsModule.forRoot({ app: 'reconciler' }),
        ReconcilerStageModule.forRoot(),
      ],
      controllers: [HealthController, MetricsController],
      providers: [{ provide: HEALTH_PROBE, useExisting: ReconcilerRunner }],
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }
}
