import { Module, type DynamicModule } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { ErasureModule, SubjectKeys } from '@iks/erasure';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { NotificationWriter, type NotificationWriterOptions } from './notification-writer';

/**
 * The raw-topic writer over the context's Kafka (KafkaModule): ingest's webhooks, and the CLI's
 * backfill and reconcile --heal. Needs ConfigModule and OpsModule at the root.
 */
@Module({})
export class NotificationWriterModule {
  static forRoot(opts: NotificationWriterOptions = {}): DynamicModule {
    return {
      module: NotificationWriterModule,
      imports: [KafkaModule, ErasureModule],
      providers: [
        {
          provide: NotificationWriter,
          inject: [CONFIG, KAFKA, PRODUCER, AvroCodec, SubjectKeys],
          useFactory: (c: Config, kafka: Kafka, producer: Producer, codec: AvroCodec, subjectKeys: SubjectKeys) =>
            new NotificationWriter(c, { kafka, producer, codec, subjectKeys }, opts),
        },
      ],
      exports: [NotificationWriter],
    };
  }
}

/** A writer from NotificationWriterModule in its own context with `config` (the CLI, the tests); `start()` it, `stop()` it. */
export async function createNotificationWriter(
  config: Config,
  opts: NotificationWriterOptions = {},
): Promise<NotificationWriter> {
  return (await createContext(config, config.app, NotificationWriterModule.forRoot(opts))).get(NotificationWriter);
}
