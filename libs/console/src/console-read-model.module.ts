import { Module } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { ErasureModule, SubjectKeys } from '@iks/erasure';
import { AvroCodec, KAFKA, KafkaModule } from '@iks/kafka';
import { GapsModel } from './gaps-model';
import { PipelineLag } from './pipeline-lag';
import { DeliveryReadModel } from './read-model';
import { ReadModelFeed } from './read-model.feed';
import { SharedAdmin } from './shared-admin';
import { SinkThrottling } from './sink-throttling';

/**
 * The console's read models and what feeds them, over the context's Kafka and codec
 * (KafkaModule): the delivery and gaps models, their feed, the shared admin connection of the
 * pages, the lag reader and the sinks' throttling scraper. Needs ConfigModule at the root.
 */
@Module({
  imports: [KafkaModule, ErasureModule],
  providers: [
    { provide: DeliveryReadModel, useFactory: () => new DeliveryReadModel() },
    { provide: GapsModel, useFactory: () => new GapsModel() },
    { provide: SharedAdmin, inject: [KAFKA], useFactory: (kafka: Kafka) => new SharedAdmin(kafka) },
    {
      provide: ReadModelFeed,
      inject: [KAFKA, AvroCodec, DeliveryReadModel, GapsModel, CONFIG, SharedAdmin, SubjectKeys],
      useFactory: (
        kafka: Kafka,
        codec: AvroCodec,
        model: DeliveryReadModel,
        gaps: GapsModel,
        c: Config,
        admin: SharedAdmin,
        keys: SubjectKeys,
      ) => new ReadModelFeed(kafka, codec, model, gaps, c, admin, keys),
    },
    {
      provide: PipelineLag,
      inject: [SharedAdmin, CONFIG],
      useFactory: (admin: SharedAdmin, c: Config) => new PipelineLag(admin, c),
    },
    {
      provide: SinkThrottling,
      inject: [CONFIG],
      useFactory: (c: Config) => new SinkThrottling(c.console.sinkMetricsUrls),
    },
  ],
  exports: [KafkaModule, DeliveryReadModel, GapsModel, SharedAdmin, ReadModelFeed, PipelineLag, SinkThrottling],
})
export class ConsoleReadModelModule {}
