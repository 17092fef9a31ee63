import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, loadConfig } from '@iks/config';
import { exitOnFatal, HEALTH_PROBE, HealthController, MetricsController, OpsModule } from '@iks/ops';
import { StageServer } from '@iks/stage';
import { TransformerRunner, TransformerStageModule } from '@iks/transformer';

/** The transformer app: the transformer stage (libs/transformer) served by the StageServer transport, health and metrics. */
@Module({})
export class TransformerModule {
  static forRoot(env: NodeJS.ProcessEnv): DynamicModule {
    const config = loadConfig(env, 'transformer');
    return {
      module: TransformerModule,
      imports: [
        ConfigModule.forRoot(config),
        OpsModule.forRoot({ app: 'transformer' }),
        TransformerStageModule.forRoot({ onFatal: exitOnFatal('transformer') }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: HEALTH_PROBE, useExisting: TransformerRunner },
        { provide: StageServer, inject: [TransformerRunner], useFactory: (t: TransformerRunner) => new StageServer(t) },
      ],
    };
  }
}
