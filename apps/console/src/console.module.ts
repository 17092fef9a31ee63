import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import type { Kafka, Producer } from 'kafkajs';
import { CONFIG, ConfigModule, Secret, type Config } from '@iks/config';
import {
  ConnectionProbe,
  ConnectionStore,
  CONNECTIONS,
  ConnectionsModule,
  seedExamples,
  type KafkaConnectionDirectory,
} from '@iks/connections';
import { KlaviyoHttpClient } from '@iks/klaviyo';
import { IntercomOAuthClient, KlaviyoOAuthClient } from '@iks/oauth';
import { ConsoleReadModelModule, SharedAdmin } from '@iks/console';
import { AvroCodec, KAFKA, PRODUCER } from '@iks/kafka';
import { HEALTH_PROBE, HealthController, MetricsController, OpsModule } from '@iks/ops';
import { ConsoleConnections } from './console-connections';
import { ConnectionsController } from './connections.controller';
import { ConsoleController } from './console.controller';
import { ConsoleHealth } from './console-health';
import { ConsoleMetrics } from './console-metrics';
import { ConsoleReplay } from './console-replay';
import { ConsoleService } from './console.service';

/** Prometheus text at /ops/metrics: the console's own /metrics is its Metrics page. */
@Module({ controllers: [MetricsController] })
export class ConsoleOpsModule {}

/**
 * The console: the validated Config (ConfigModule), logging, health and metrics (OpsModule),
 * Kafka, producer and codec (KafkaModule, through ConsoleReadModelModule) as in the other apps;
 * the read models and their feed from libs/console; the pages and the actions here.
 */
@Module({})
export class ConsoleModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [
        ConfigModule.forRoot(config),
        OpsModule.forRoot({ app: 'console' }),
        ConsoleReadModelModule,
        ConnectionsModule,
        ConsoleOpsModule,
        RouterModule.register([{ path: 'ops', module: ConsoleOpsModule }]),
      ],
      controllers: [ConsoleController, ConnectionsController, HealthController],
      providers: [
        {
          provide: ConsoleReplay,
          inject: [KAFKA, SharedAdmin, CONFIG],
          useFactory: (kafka: Kafka, admin: SharedAdmin, c: Config) => new ConsoleReplay(kafka, admin, c),
        },
        {
          provide: ConsoleConnections,
          inject: [CONFIG, CONNECTIONS, ConnectionStore, ConnectionProbe, PRODUCER, AvroCodec],
          useFactory: (
            c: Config,
            directory: KafkaConnectionDirectory,
            store: ConnectionStore,
            probe: ConnectionProbe,
            producer: Producer,
            codec: AvroCodec,
          ) =>
            new ConsoleConnections({
              config: c,
              directory,
              store,
              probe,
              ...oauthClients(c),
              // CONNECTIONS_SEED_EXAMPLES: a connection just added gets its example profile and events
              seed: c.connections.seedExamples
                ? async (connection) => {
                    await codec.registerAll();
                    await seedExamples({ producer, codec }, c, connection);
                  }
                : undefined,
            }),
        },
        ConsoleService,
        ConsoleMetrics,
        { provide: HEALTH_PROBE, useClass: ConsoleHealth },
      ],
    };
  }
}

/** How long an OAuth or a live-check request waits. */
const OAUTH_TIMEOUT_MS = 15_000;

/**
 * The console's OAuth clients (issue #23), from CONSOLE_OAUTH config: Klaviyo's (authorize,
 * token, revoke; only the scheme, host and port of KLAVIYO_OAUTH_AUTHORIZE_URL / _TOKEN_URL are
 * used, the paths are Klaviyo's), Intercom's, and the live check of an OAuth access token
 * (GET /api/accounts with `Authorization: Bearer`).
 */
function oauthClients(c: Config) {
  const secret = (v: string) => new Secret(v);
  const k = c.consoleOAuth.klaviyo;
  const i = c.consoleOAuth.intercom;
  return {
    klaviyoOAuth: k
      ? new KlaviyoOAuthClient({
          clientId: k.clientId,
          clientSecret: k.clientSecret,
          endpoints: { authorizeBaseUrl: k.authorizeUrl, apiBaseUrl: k.tokenUrl },
          timeoutMs: OAUTH_TIMEOUT_MS,
          secret,
        })
      : null,
    intercomOAuth: i
      ? new IntercomOAuthClient({
          clientId: i.clientId,
          clientSecret: i.clientSecret,
          authorizeBaseUrl: i.authorizeUrl,
          timeoutMs: OAUTH_TIMEOUT_MS,
          secret,
        })
      : null,
    bearerProbe: new ConnectionProbe({
      intercomMe: () => Promise.reject(new Error('not used: Intercom tokens are checked by IntercomOAuthClient.me')),
      klaviyoAccounts: async (accessToken, baseUrl) =>
        (
          await new KlaviyoHttpClient({
            authorization: () => `Bearer ${accessToken.reveal()}`,
            baseUrl,
            revision: c.klaviyo.revision,
            timeoutMs: OAUTH_TIMEOUT_MS,
          }).get('/api/accounts')
        ).body,
    }),
  };
}
