import { Module, type DynamicModule, type INestApplicationContext, type Provider } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { CONFIG, Secret, type Config } from '@iks/config';
import { CONNECTIONS, ConnectionStore, ConnectionsModule, type ConnectionDirectory } from '@iks/connections';
import { ErasureModule } from '@iks/erasure';
import { KAFKA, KafkaModule, topicName } from '@iks/kafka';
import { createKlaviyoDelivery, KlaviyoHttpClient, RateBudget, type EndpointGroup } from '@iks/klaviyo';
import { KlaviyoOAuthClient } from '@iks/oauth';
import { createContext, runnerClosingContext } from '@iks/ops';
import { StageModule } from '@iks/stage';
import { AccountBudgets, DEFAULT_ACCOUNT } from './account-budgets';
import { BudgetShare, type GroupTopics } from './budget-share';
import { parkedPartitionOf } from './connection-keys';
import { DrainGate } from './drain-gate';
import { authorizationOf, KlaviyoLanes, type MakeDelivery } from './klaviyo-lanes';
import { KlaviyoTokenSources, missingOAuthVariable, usesOAuth, type GrantWriter } from './klaviyo-token-sources';
import { ParkedProgress } from './parked-progress';
import { SinkMetrics } from './sink-metrics';
import { consumesParked, SinkRunner, sinkTopicsOf, type SinkRunOptions } from './sink.runner';
import { SINK_ABORT, SINK_RUN } from './sink.tokens';

export interface SinkStageOptions {
  /** What to deliver (default: the live sink, all three topics, and the parked records). */
  readonly run?: SinkRunOptions;
  /** The default account's budget. Default: Klaviyo's limits with 200 ms of margin per window (every account's). */
  readonly budget?: RateBudget;
  /** A consumer crashed for good; default: logged (the app exits, see apps/sink). */
  readonly onFatal?: (error: unknown) => void;
  /**
   * The connections (default: ConnectionsModule's: pipeline.connections.v1 followed from the
   * beginning, and the environment's default connection, KLAVIYO_API_KEY and KLAVIYO_BASE_URL).
   */
  readonly connections?: ConnectionDirectory;
}

/** Endpoint groups the replicas share by the partitions of the topics that feed each (budget-share.ts). */
const DEFAULT_KEY_CHECKED = Symbol('DEFAULT_KEY_CHECKED');

const FED: Readonly<Record<'events' | 'profiles' | 'deletions', readonly EndpointGroup[]>> = {
  events: ['events-bulk', 'events'],
  profiles: ['profile-import'],
  deletions: ['data-privacy-deletion'],
};

/**
 * The sink's OAuth grants (klaviyo-token-sources.ts): the Klaviyo OAuth app's client from
 * KLAVIYO_OAUTH_CLIENT_ID/SECRET and KLAVIYO_OAUTH_TOKEN_URL, required at start only when a
 * connection uses OAuth; rotated grants and needs_reauth written through the ConnectionStore
 * (none when the directory is given, as tests and benches do: grants kept in memory).
 */
export function createTokenSources(
  c: Config,
  directory: ConnectionDirectory,
  store: ConnectionStore | null,
): KlaviyoTokenSources {
  const o = c.klaviyo.oauth;
  const missing = missingOAuthVariable(o);
  const oauth = directory.all().filter(usesOAuth);
  if (missing && oauth.length > 0)
    throw new Error(
      `${missing} is required by the sink: connection(s) ${oauth.map((x) => x.id).join(', ')} use Klaviyo OAuth (the client id and secret of the Klaviyo OAuth app that granted them)`,
    );
  const tokenUrl = new URL(o.tokenUrl);
  const client = missing
    ? null
    : new KlaviyoOAuthClient({
        clientId: o.clientId!,
        clientSecret: o.clientSecret!,
        endpoints: { authorizeBaseUrl: 'https://www.klaviyo.com', apiBaseUrl: tokenUrl.origin, tokenUrl: o.tokenUrl },
        timeoutMs: c.sink.requestTimeoutMs,
        secret: (v) => new Secret(v),
      });
  // the first rotation is not held by preparing the store (other replicas wait for its record)
  if (store && oauth.length > 0) void store.ready().catch(() => undefined);
  const writer: GrantWriter | null = store && {
    rotated: async (connection, grant) => {
      const refreshedFrom = connection.klaviyo.oauth?.refreshToken.reveal();
      let base = connection;
      for (let attempt = 0; attempt < 3; attempt++) {
        await store.put({ ...base, klaviyo: { ...base.klaviyo, oauth: grant } });
        // Writes are not compare-and-swap: another replica's needs_reauth (carrying the grant this one
        // was refreshed from) may have taken the revision. The rotated grant works: write it again, active.
        const now = directory.get(connection.id);
        if (!now || !usesOAuth(now) || now.klaviyo.oauth.refreshToken.reveal() !== refreshedFrom) return;
        base = { ...now, status: 'active' };
      }
    },
    needsReauth: async (connection) => {
      await store.needsReauth(connection.id);
    },
  };
  return new KlaviyoTokenSources({
    directory,
    client,
    writer,
    refreshBeforeMs: o.refreshBeforeMs,
    adoptWaitMs: o.adoptWaitMs,
  });
}

/** The default connection (CONNECTIONS_DEFAULT, on unless turned off) needs its key: the sink refuses to start without it. */
function checkDefaultKey(c: Config): true {
  if (c.connections.defaultConnection && !c.klaviyo.apiKey) throw new Error('KLAVIYO_API_KEY is required by the sink');
  return true;
}

/**
 * The sink stage: SinkRunner and what it uses (Kafka, the stage runtime, a Klaviyo lane per
 * connection with a rate budget per account and this replica's share of it, the parked topic's
 * progress, the sink's metrics). The app serves it; the CLI replay and dlq, the tests and the
 * benches boot it in a context (sinkContext). Needs ConfigModule and OpsModule at the root.
 */
@Module({})
export class SinkStageModule {
  static forRoot(opts: SinkStageOptions = {}): DynamicModule {
    const run = opts.run ?? {};
    const connections: Provider[] = opts.connections ? [{ provide: CONNECTIONS, useValue: opts.connections }] : [];
    return {
      module: SinkStageModule,
      imports: [
        KafkaModule,
        ErasureModule,
        StageModule.forRoot({ stage: 'sink', onFatal: opts.onFatal }),
        ...(opts.connections ? [] : [ConnectionsModule]),
      ],
      providers: [
        { provide: DEFAULT_KEY_CHECKED, inject: [CONFIG], useFactory: checkDefaultKey },
        ...connections,
        { provide: SINK_RUN, useValue: run },
        { provide: SINK_ABORT, useFactory: () => new AbortController() },
        SinkMetrics,
        {
          provide: KlaviyoTokenSources,
          inject: [CONFIG, CONNECTIONS, { token: ConnectionStore, optional: true }],
          useFactory: (c: Config, directory: ConnectionDirectory, store: ConnectionStore | undefined) =>
            createTokenSources(c, directory, opts.connections ? null : (store ?? null)),
        },
        {
          // 200 ms of margin: a request granted just inside our window can land in Klaviyo's next one
          provide: AccountBudgets,
          useFactory: () =>
            new AccountBudgets((account) =>
              account === DEFAULT_ACCOUNT && opts.budget ? opts.budget : new RateBudget({ windowMarginMs: 200 }),
            ),
        },
        {
          provide: ParkedProgress,
          inject: [CONFIG, KAFKA],
          useFactory: (c: Config, kafka: Kafka) =>
            new ParkedProgress(kafka, topicName('parked', c.kafka.topicPrefix), c.sink.groupId),
        },
        {
          provide: KlaviyoLanes,
          inject: [
            CONFIG,
            CONNECTIONS,
            AccountBudgets,
            ParkedProgress,
            SinkMetrics,
            SINK_ABORT,
            KlaviyoTokenSources,
            DEFAULT_KEY_CHECKED,
          ],
          useFactory: (
            c: Config,
            directory: ConnectionDirectory,
            budgets: AccountBudgets,
            progress: ParkedProgress,
            metrics: SinkMetrics,
            abort: AbortController,
            tokens: KlaviyoTokenSources,
          ) => {
            const make: MakeDelivery = (connection, budget, circuit) =>
              createKlaviyoDelivery({
                client: new KlaviyoHttpClient({
                  // the connection's current credential at each request (a new key; an OAuth connection's
                  // request goes with its token source's Bearer, refreshed, set by `fetch`)
                  authorization: () =>
                    tokens.currentAuthorization(connection.id) ??
                    authorizationOf(directory.get(connection.id) ?? connection),
                  fetch: tokens.fetchFor(connection.id),
                  baseUrl: connection.klaviyo.apiBaseUrl,
                  revision: c.klaviyo.revision,
                  timeoutMs: c.sink.requestTimeoutMs,
                }),
                budget,
                circuit,
                retry: { maxElapsedMs: c.sink.retryMaxMs, maxDelayMs: c.sink.retryMaxDelayMs },
                batch: { maxCount: c.sink.batchMaxEvents, maxWaitMs: c.sink.batchMaxWaitMs },
                signal: abort.signal,
                onRetry: (operation) => metrics.retried(operation),
                onResponse: (operation, status, seconds) =>
                  metrics.requestSeconds.observe({ operation, status: String(status) }, seconds),
              });
            return new KlaviyoLanes(
              directory,
              budgets,
              make,
              { tripAfterMs: c.sink.accountTripMs, probeInitialMs: 1000, probeMaxMs: c.sink.retryMaxDelayMs },
              new DrainGate((id) => parkedPartitionOf(id, progress.partitions)),
              () => progress.snapshot,
            );
          },
        },
        {
          provide: BudgetShare,
          inject: [CONFIG, KAFKA, AccountBudgets],
          useFactory: (c: Config, kafka: Kafka, budgets: AccountBudgets) => {
            const groupTopics: Partial<Record<EndpointGroup, string[]>> = {};
            const parked = consumesParked(run) ? [topicName('parked', c.kafka.topicPrefix)] : [];
            for (const t of sinkTopicsOf(run))
              for (const g of FED[t]) groupTopics[g] = [topicName(t, c.kafka.topicPrefix), ...parked];
            return new BudgetShare(budgets, kafka, run.groupId ?? c.sink.groupId, groupTopics as GroupTopics);
          },
        },
        SinkRunner,
      ],
      exports: [SinkRunner],
    };
  }
}

/** SinkStageModule in a Nest application context with `config` (CLI replay and dlq, tests, benches): the app's very wiring. */
export async function sinkContext(
  config: Config,
  opts: SinkStageOptions & { readonly registry?: Registry } = {},
): Promise<INestApplicationContext> {
  return createContext(config, 'sink', SinkStageModule.forRoot(opts), { registry: opts.registry });
}

/** The runner of a fresh sink context (`runner.stop()` stops what it started). */
export async function createSinkRunner(
  config: Config,
  opts: SinkStageOptions & { readonly registry?: Registry } = {},
): Promise<SinkRunner> {
  return runnerClosingContext(await sinkContext(config, opts), SinkRunner);
}
