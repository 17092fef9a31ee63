import { Global, Module } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import { INTERCOM_CLIENT_FACTORY, intercomClientFactoryProvider, type IntercomClientFactory } from '@iks/intercom';
import { AvroCodec, KAFKA, KafkaModule, PRODUCER, topicName } from '@iks/kafka';
import { KlaviyoHttpClient } from '@iks/klaviyo';
import { METRICS_REGISTRY } from '@iks/ops';
import type { Registry } from 'prom-client';
import { ConnectionProbe } from './connection-probe';
import { ConnectionStore } from './connection-store';
import { CONNECTIONS } from './connections.tokens';
import { defaultConnectionFromConfig } from './default-connection';
import { KafkaConnectionDirectory } from './kafka-connection-directory';
import { ConnectionSealer } from './sealing';

/** The process's ConnectionSealer, or null without CONNECTION_SECRET_KEYS. */
export const CONNECTION_SEALER = Symbol('CONNECTION_SEALER');

/** How long a live check waits for Intercom or Klaviyo. */
const PROBE_TIMEOUT_MS = 15_000;

/**
 * Connections for an app or a CLI context (global): CONNECTIONS, the KafkaConnectionDirectory
 * (built from the shared KafkaModule providers, caught up with pipeline.connections.v1 before
 * the app starts, stopped on shutdown), the ConnectionStore that writes changes, the
 * ConnectionProbe that validates credentials live, and INTERCOM_CLIENT_FACTORY (a connection's Intercom client).
 */
@Global()
@Module({
  imports: [KafkaModule],
  providers: [
    {
      provide: CONNECTION_SEALER,
      inject: [CONFIG],
      useFactory: (c: Config): ConnectionSealer | null =>
        c.connections.secretKeys.length > 0 ? new ConnectionSealer(c.connections.secretKeys) : null,
    },
    {
      provide: CONNECTIONS,
      inject: [CONFIG, KAFKA, AvroCodec, CONNECTION_SEALER, { token: METRICS_REGISTRY, optional: true }],
      useFactory: async (
        c: Config,
        kafka: Kafka,
        codec: AvroCodec,
        sealer: ConnectionSealer | null,
        registry: Registry | undefined,
      ): Promise<KafkaConnectionDirectory> => {
        const directory = new KafkaConnectionDirectory({
          kafka,
          kafkaConfig: c.kafka,
          codec,
          topic: topicName('connections', c.kafka.topicPrefix),
          groupPrefix: `${c.kafka.topicPrefix}iks-${c.app}-connections`,
          sealer,
          defaultConnection: c.connections.defaultConnection ? defaultConnectionFromConfig(c) : null,
          environmentClientSecrets: c.connections.defaultConnection ? c.ingest.clientSecrets : [],
          registry,
        });
        await directory.start();
        return directory;
      },
    },
    {
      provide: ConnectionStore,
      inject: [CONFIG, CONNECTIONS, PRODUCER, AvroCodec, KAFKA, CONNECTION_SEALER],
      useFactory: (
        c: Config,
        directory: KafkaConnectionDirectory,
        producer: Producer,
        codec: AvroCodec,
        kafka: Kafka,
        sealer: ConnectionSealer | null,
      ) =>
        new ConnectionStore({
          directory,
          producer,
          codec,
          kafka,
          kafkaConfig: c.kafka,
          sealer,
          topic: topicName('connections', c.kafka.topicPrefix),
        }),
    },
    intercomClientFactoryProvider,
    {
      provide: ConnectionProbe,
      inject: [CONFIG, INTERCOM_CLIENT_FACTORY],
      useFactory: (c: Config, intercomClient: IntercomClientFactory) =>
        new ConnectionProbe({
          intercomMe: (accessToken, apiBaseUrl) =>
            intercomClient({ intercom: { accessToken, apiBaseUrl } }, { timeoutMs: PROBE_TIMEOUT_MS, retries: 1 }).me(),
          klaviyoAccounts: async (privateKey, baseUrl) =>
            (
              await new KlaviyoHttpClient({
                apiKey: privateKey.reveal(),
                baseUrl,
                revision: c.klaviyo.revision,
                timeoutMs: PROBE_TIMEOUT_MS,
              }).get('/api/accounts')
            ).body,
        }),
    },
  ],
  exports: [CONNECTIONS, CONNECTION_SEALER, ConnectionStore, ConnectionProbe, INTERCOM_CLIENT_FACTORY],
})
export class ConnectionsModule {}
