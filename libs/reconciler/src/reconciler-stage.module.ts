import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { CONNECTIONS, ConnectionsModule, type ConnectionDirectory } from '@iks/connections';
import { NotificationWriter, NotificationWriterModule } from '@iks/ingest';
import { INTERCOM_CLIENT_FACTORY, intercomClientFactoryProvider, type IntercomClientFactory } from '@iks/intercom';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER } from '@iks/kafka';
import { createContext, METRICS_REGISTRY, runnerClosingContext } from '@iks/ops';
import { ReconcilerRunner } from './reconciler.runner';

export interface ReconcilerStageOptions {
  /**
   * The connections (default: ConnectionsModule's: pipeline.connections.v1 followed from the
   * beginning, and the environment's default connection).
   */
  readonly connections?: ConnectionDirectory;
}

const runnerProvider: Provider = {
  provide: ReconcilerRunner,
  inject: [
    CONFIG,
    METRICS_REGISTRY,
    KAFKA,
    PRODUCER,
    AvroCodec,
    NotificationWriter,
    CONNECTIONS,
    INTERCOM_CLIENT_FACTORY,
  ],
  useFactory: (
    c: Config,
    registry: Registry,
    kafka: Kafka,
    producer: Producer,
    codec: AvroCodec,
    writer: NotificationWriter,
    connections: ConnectionDirectory,
    intercomClient: IntercomClientFactory,
  ) => new ReconcilerRunner(c, registry, { kafka, producer, codec, writer, connections, intercomClient }),
};

/**
 * The continuous reconciler (ReconcilerRunner) over the context's Kafka, a raw-topic writer
 * (no outage recording: that is ingest's), the connections (one loop per connection with an
 * Intercom access token) and INTERCOM_CLIENT_FACTORY. The app serves it; the tests boot it in a
 * context (createReconcilerRunner). Needs ConfigModule and OpsModule at the root.
 */
@Module({})
export class ReconcilerStageModule {
  static forRoot(opts: ReconcilerStageOptions = {}): DynamicModule {
    return {
      module: ReconcilerStageModule,
      imports: [
        KafkaModule,
        NotificationWriterModule.forRoot({ recordOutages: false }),
        ...(opts.connections ? [] : [ConnectionsModule]),
      ],
      providers: [
        ...(opts.connections ? [{ provide: CONNECTIONS, useValue: opts.connections }] : []),
        intercomClientFactoryProvider,
        runnerProvider,
      ],
      exports: [ReconcilerRunner],
    };
  }
}

/** The runner of a fresh reconciler context with `config` (tests); `start()` it, `stop()` it (that closes the context). */
export async function createReconcilerRunner(
  config: Config,
  opts: ReconcilerStageOptions & { readonly registry?: Registry } = {},
): Promise<ReconcilerRunner> {
  return runnerClosingContext(
    await createContext(config, 'reconciler', ReconcilerStageModule.forRoot(opts), opts),
    ReconcilerRunner,
  );
}
