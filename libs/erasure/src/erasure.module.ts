import { Module } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { CONNECTION_SEALER, ConnectionsModule, NoSealingKeyError, type ConnectionSealer } from '@iks/connections';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER, topic } from '@iks/kafka';
import { SubjectKeys } from './subject-keys';

/** SubjectKeys of this process on the configured topics, sealed under CONNECTION_SECRET_KEYS (start() it). */
@Module({
  imports: [KafkaModule, ConnectionsModule],
  providers: [
    {
      provide: SubjectKeys,
      inject: [CONFIG, KAFKA, AvroCodec, PRODUCER, CONNECTION_SEALER],
      useFactory: (c: Config, kafka: Kafka, codec: AvroCodec, producer: Producer, sealer: ConnectionSealer | null) => {
        // people's keys are sealed under the deployment's key ring, as connection secrets are
        if (!sealer) throw new NoSealingKeyError();
        return new SubjectKeys(
          kafka,
          codec,
          producer,
          sealer,
          topic('subjectKeys', c.kafka.topicPrefix),
          `${c.kafka.topicPrefix}${c.app}.subject-keys`,
        );
      },
    },
  ],
  exports: [SubjectKeys],
})
export class ErasureModule {}
