import { Module } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { ConnectionSealer } from '@iks/connections';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER, topic } from '@iks/kafka';
import { SubjectKeys } from './subject-keys';

/**
 * SubjectKeys of this process on the configured topics (start() it): the keys sealed under
 * CONNECTION_SECRET_KEYS, or stored unsealed without a key ring (a warning at start; erasure
 * still destroys them, docs/ERASURE.md).
 */
@Module({
  imports: [KafkaModule],
  providers: [
    {
      provide: SubjectKeys,
      inject: [CONFIG, KAFKA, AvroCodec, PRODUCER],
      useFactory: (c: Config, kafka: Kafka, codec: AvroCodec, producer: Producer) => {
        const ring = c.connections.secretKeys;
        const sealer = ring.length > 0 ? new ConnectionSealer(ring) : null;
        // people's keys are sealed under the deployment's key ring, as connection secrets are; without one, stored unsealed
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
