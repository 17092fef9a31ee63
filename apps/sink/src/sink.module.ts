import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, loadConfig } from '@iks/config';
import { exitOnFatal, HEALTH_PROBE, HealthController, MetricsController, OpsModule } from '@iks/ops';
import { SinkRunner, SinkStageModule } from '@iks/sink';
import { StageServer } from '@iks/stage';

/** The sink app: the sink stage (libs/sink) served by the StageServer transport, health and metrics. */
@Module({})
export class SinkModule {
  static forRoot(env: NodeJS.ProcessEnv): DynamicModule {
    const config = loadConfig(env, 'sink');
    return {
      module: SinkModule,
      imports: [
        ConfigModule.forRoot(config),
        OpsModule.forRoot({ app: 'sink' }),
        SinkStageModule.forRoot({ onFatal: exitOnFatal('sink') }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: HEALTH_PROBE, useExisting: SinkRunner },
        { provide: StageServer, inject: [SinkRunner], useFactory: (s: SinkRunner) => new StageServer(s) },
      ],
    };
  }
}
