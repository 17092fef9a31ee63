import { Module } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { NotificationWriter, NotificationWriterModule } from '@iks/ingest';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER } from '@iks/kafka';
import { createContext, METRICS_REGISTRY } from '@iks/ops';
import { ReconcilerRunner } from './reconciler.runner';

/**
 * The continuous reconciler (ReconcilerRunner) over the context's Kafka and a raw-topic writer
 * (no outage recording: that is ingest's). The app serves it; the tests boot it in a context
 * (createReconcilerRunner). Needs ConfigModule and OpsModule at the root.
 */
@Module({
  imports: [KafkaModule, NotificationWriterModule.forRoot({ recordOutages: false })],
  providers: [
    {
      provide: ReconcilerRunner,
      inject: [CONFIG, METRICS_REGISTRY, KAFKA, PRODUCER, AvroCodec, NotificationWriter],
      useFactory: (
        c: Config,
        registry: Registry,
        kafka: Kafka,
        producer: Producer,
        codec: AvroCodec,
        writer: NotificationWriter,
      ) => new ReconcilerRunner(c, registry, { kafka, producer, codec, writer }),
    },
  ],
  exports: [ReconcilerRunner],
})
export class ReconcilerStageModule {}

/** The runner of a fresh reconciler context with `config` (tests); `start()` it, `stop()` it. */
export async function createReconcilerRunner(
  config: Config,
  opts: { readonly registry?: Registry } = {},
): Promise<ReconcilerRunner> {
  return (await createContext(config, 'reconciler', ReconcilerStageModule, opts)).get(ReconcilerRunner);
}
