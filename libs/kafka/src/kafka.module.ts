import { Module } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { AvroCodec } from './avro-codec';
import { createKafka, createProducer } from './kafka-client';

/** The process's kafkajs client (createKafka: the project's retry, logging and SASL settings). */
export const KAFKA = Symbol('KAFKA');
/**
 * The process's producer (createProducer: idempotent, one in flight). Who starts work with it
 * connects it (prepareStage) and disconnects it when stopped (a stage, the notification writer):
 * Nest runs shutdown hooks from the deepest module up, so a hook here would disconnect it
 * before they flush.
 */
export const PRODUCER = Symbol('PRODUCER');

/**
 * Kafka for a stage, an app or a CLI context: the client, the producer and the Avro codec
 * (schema registry), each made once here from the validated Config (ConfigModule).
 */
@Module({
  providers: [
    { provide: KAFKA, inject: [CONFIG], useFactory: (c: Config): Kafka => createKafka(c.kafka) },
    {
      provide: PRODUCER,
      inject: [CONFIG, KAFKA],
      useFactory: (c: Config, kafka: Kafka): Producer => createProducer(kafka, c.kafka.compression),
    },
    { provide: AvroCodec, inject: [CONFIG], useFactory: (c: Config) => new AvroCodec(c.kafka) },
  ],
  exports: [KAFKA, PRODUCER, AvroCodec],
})
export class KafkaModule {}
