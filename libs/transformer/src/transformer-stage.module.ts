import { Logger, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { CONNECTIONS, ConnectionsModule, type Connection, type ConnectionDirectory } from '@iks/connections';
import { Directory, intercomSourceFor, intercomSourceForConnection, type IntercomSource } from '@iks/directory';
import { ErasureModule } from '@iks/erasure';
import { KafkaModule } from '@iks/kafka';
import { createContext, runnerClosingContext } from '@iks/ops';
import { StageModule } from '@iks/stage';
import {
  CONNECTION_INTERCOM_SOURCE,
  TRANSFORMER_RUN,
  TransformerRunner,
  type ConnectionIntercomSource,
  type TransformerStartOptions,
} from './transformer.runner';

/** Where the transformer reads contacts, admins and teams that webhooks do not carry. */
export const INTERCOM_SOURCE = Symbol('INTERCOM_SOURCE');

export interface TransformerStageOptions {
  /** What to consume (default: the live stage, with its retry consumer). */
  readonly run?: TransformerStartOptions;
  /** The default connection's; default: Intercom's REST API with INTERCOM_ACCESS_TOKEN (intercomSourceFor), none without it. */
  readonly intercomSource?: IntercomSource;
  /** Another connection's; default: its API host with its access token (intercomSourceForConnection), none without one. */
  readonly intercomSourceFor?: (connection: Connection) => IntercomSource;
  /** The connections (default: ConnectionsModule's: pipeline.connections.v1 and the environment's default connection). */
  readonly connections?: ConnectionDirectory;
  /** A consumer crashed for good; default: logged (the app exits, see apps/transformer). */
  readonly onFatal?: (error: unknown) => void;
}

/**
 * The transformer stage: TransformerRunner and what it uses (Kafka, the stage runtime, the
 * directory and its Intercom source). The app serves it; the CLI replay, the tests and the
 * benches boot it in a context (transformerContext). Needs ConfigModule and OpsModule at the root.
 */
@Module({})
export class TransformerStageModule {
  static forRoot(opts: TransformerStageOptions = {}): DynamicModule {
    return {
      module: TransformerStageModule,
      imports: [
        KafkaModule,
        ErasureModule,
        StageModule.forRoot({ stage: 'transformer', onFatal: opts.onFatal }),
        ...(opts.connections ? [] : [ConnectionsModule]),
      ],
      providers: [
        { provide: TRANSFORMER_RUN, useValue: opts.run ?? {} },
        {
          provide: INTERCOM_SOURCE,
          inject: [CONFIG],
          useFactory: (c: Config): IntercomSource => {
            const source = opts.intercomSource ?? intercomSourceFor(c);
            if (!source.enabled) {
              new Logger('transformer').warn(
                'INTERCOM_ACCESS_TOKEN is not set: contacts are known from contact.* webhooks only (no GET /contacts/{id}, no admin/team names)',
              );
            }
            return source;
          },
        },
        {
          provide: Directory,
          inject: [CONFIG, INTERCOM_SOURCE],
          useFactory: (c: Config, source: IntercomSource) =>
            new Directory(source, c.transformer.directoryRefreshMs, {
              cacheContacts: c.transformer.directoryCacheContacts,
            }),
        },
        ...(opts.connections ? [{ provide: CONNECTIONS, useValue: opts.connections }] : []),
        {
          provide: CONNECTION_INTERCOM_SOURCE,
          inject: [CONFIG],
          useFactory:
            (c: Config): ConnectionIntercomSource =>
            (connection) =>
              opts.intercomSourceFor?.(connection) ?? intercomSourceForConnection(connection, c.intercom.version),
        },
        TransformerRunner,
      ],
      exports: [TransformerRunner],
    };
  }
}

/** TransformerStageModule in a Nest application context with `config` (CLI replay, tests, benches): the apps' very wiring. */
export async function transformerContext(
  config: Config,
  opts: TransformerStageOptions & { readonly registry?: Registry } = {},
): Promise<INestApplicationContext> {
  return createContext(config, 'transformer', TransformerStageModule.forRoot(opts), { registry: opts.registry });
}

/** The runner of a fresh transformer context (`runner.stop()` stops what it started). */
export async function createTransformerRunner(
  config: Config,
  opts: TransformerStageOptions & { readonly registry?: Registry } = {},
): Promise<TransformerRunner> {
  return runnerClosingContext(await transformerContext(config, opts), TransformerRunner);
}
