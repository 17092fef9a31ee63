/**
 * The one place that reads the environment (12-factor). Every setting, its default and
 * its check live here; apps call loadConfig() once at boot and get a typed, frozen object.
 * All bad variables are reported together, each by name.
 */
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KLAVIYO_REVISION, METRICS, type MetricKey } from '@iks/domain';

export type AppName = 'ingest' | 'transformer' | 'sink' | 'reconciler' | 'cli' | 'supervisor' | 'console';

/** A secret value: never printed, never serialised (logs, JSON, Kafka). */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean;
  readonly sasl: {
    readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    readonly username: string;
    readonly password: Secret;
  } | null;
  readonly schemaRegistryUrl: string;
  readonly schemaRegistryAuth: { readonly username: string; readonly password: Secret } | null;
  readonly topicPrefix: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** `max.message.bytes` of the topics the apps create (the broker's default is 1,048,588). */
  readonly topicMaxMessageBytes: number;
  /** The codec of the record batches the producers write (KAFKA_COMPRESSION); every reader takes both. */
  readonly compression: 'gzip' | 'lz4';
}

export interface IngestConfig {
  readonly host: string;
  readonly port: number;
  readonly clientSecrets: readonly Secret[];
  /** True when INTERCOM_CLIENT_SECRET is unset and ingest binds loopback: the published local secret is used. */
  readonly usesLocalDevSecret: boolean;
  readonly bodyLimitBytes: number;
  /** How long a webhook waits for Kafka's ack before answering 503 (Intercom times out at 5 s). */
  readonly ackTimeoutMs: number;
  /** Whole request (headers and body) and idle-connection timeout. */
  readonly requestTimeoutMs: number;
  /** A separate listener for /metrics and /health/* (0 = they are served on the webhook port). */
  readonly metricsHost: string;
  readonly metricsPort: number;
}

export interface IntercomApiConfig {
  readonly accessToken: Secret | null;
  readonly baseUrl: string;
  readonly version: string;
}

export interface TransformerConfig {
  readonly groupId: string;
  /** Health and metrics HTTP port (0 = off) and the address it binds. */
  readonly httpPort: number;
  readonly httpHost: string;
  /**
   * METRIC_NAME_OVERRIDES, keyed by the mapping's metric key: the variable names metrics by their
   * display name ("Ticket Resolved", docs/MAPPING.md), turned into keys here, once.
   */
  readonly metricNames: Readonly<Partial<Record<MetricKey, string>>>;
  readonly contactWaitMaxMs: number;
  readonly contactRetryInitialMs: number;
  readonly directoryRefreshMs: number;
  /** Healed (source reconcile) events older than this go to Klaviyo as backfill (no flows). */
  readonly reconcileBackfillAfterMs: number;
  /**
   * DIRECTORY_PATH: the folder of this replica's local contact store (LMDB). Two replicas on one
   * host need different folders; the default is per topic prefix, group and host name.
   */
  readonly directoryPath: string;
  /** DIRECTORY_CACHE_CONTACTS: contacts kept decoded in memory (least recently used); the rest stay on disk. */
  readonly directoryCacheContacts: number;
  readonly deleteOnArchive: boolean;
  readonly defaultPhoneRegion: string | null;
}

export interface KlaviyoConfig {
  readonly apiKey: Secret | null;
  readonly baseUrl: string;
  readonly revision: string;
  /** The Klaviyo OAuth app the sink refreshes OAuth connections' grants with (issue #23). */
  readonly oauth: KlaviyoOAuthAppConfig;
}

export interface KlaviyoOAuthAppConfig {
  /** KLAVIYO_OAUTH_CLIENT_ID; required by the sink only when a connection uses OAuth. */
  readonly clientId: string | null;
  /** KLAVIYO_OAUTH_CLIENT_SECRET; required with it. */
  readonly clientSecret: Secret | null;
  /** KLAVIYO_OAUTH_TOKEN_URL (default https://a.klaviyo.com/oauth/token). */
  readonly tokenUrl: string;
  /** KLAVIYO_OAUTH_REFRESH_BEFORE_MS: refresh an access token this long before it expires (default 5 min). */
  readonly refreshBeforeMs: number;
  /** KLAVIYO_OAUTH_ADOPT_WAIT_MS: how long a refused refresh waits for a grant another replica rotated (default 5 s). */
  readonly adoptWaitMs: number;
}

export interface SinkConfig {
  readonly groupId: string;
  /** Health and metrics HTTP port (0 = off) and the address it binds. */
  readonly httpPort: number;
  readonly httpHost: string;
  readonly batchMaxEvents: number;
  readonly batchMaxWaitMs: number;
  readonly retryMaxMs: number;
  /** Longest wait between two attempts of one Klaviyo request, so a recovered Klaviyo is used soon. */
  readonly retryMaxDelayMs: number;
  readonly requestTimeoutMs: number;
  /**
   * SINK_ACCOUNT_TRIP_MS: a Klaviyo account whose requests keep failing retriably (429, 5xx,
   * network) this long without one success has its circuit opened: its records are parked
   * (klaviyo.parked.v1) instead of holding the partitions other accounts share (docs/CONNECTIONS.md).
   */
  readonly accountTripMs: number;
  /**
   * SINK_DELETED_CONTACTS_PATH: the folder of the sink's store of deleted contacts (LMDB), read
   * from klaviyo.deletions.v1 and resumed from its stored offsets at start. Sink processes on one
   * host may share it; two pipelines may not (the default is per topic prefix, group and host).
   */
  readonly deletedContactsPath: string;
}

/** The delivery console (apps/console). */
export interface ConsoleConfig {
  readonly host: string;
  readonly port: number;
  /** Read-only access; required when the console binds anything but loopback. */
  readonly token: Secret | null;
  /** Actions (reprocess, replay): a separate token; without it the console is read-only. */
  readonly operatorToken: Secret | null;
  /** The sinks' /metrics, scraped for Klaviyo's 429s and the request retries (one URL per sink replica). */
  readonly sinkMetricsUrls: readonly string[];
}

/** Continuous reconcile (apps/reconciler, README "Gaps"). */
export interface ReconcilerConfig {
  /** How often the recent window is reconciled. */
  readonly intervalMs: number;
  /** How far back each scheduled run looks. */
  readonly windowMs: number;
  /**
   * The newest this long is left to the webhooks: Intercom's one retry comes about a minute after a
   * failure, and an accepted notification needs a moment to cross the pipeline.
   */
  readonly settleMs: number;
  /** An outage window is widened by this much before its start (notifications already in their retry minute). */
  readonly outageMarginMs: number;
  /** Where the index of produced ids and its offsets is kept (as `reconcile --index-dir`). */
  readonly indexDir: string;
  /** The workspace id of the notifications (`app_id`); unset: read from Intercom's GET /me. */
  readonly appId: string | null;
  /** Health and metrics HTTP port (0 = off) and the address it binds. */
  readonly httpPort: number;
  readonly httpHost: string;
}

/** Progress a consuming stage must make, else its health turns red. */
export interface StageHealthConfig {
  /** /health/ready answers 503 when a consumer with lag has not committed for this long. */
  readonly stallReadyMs: number;
  /** /health/live answers 503 (an orchestrator restarts the process) after this long without progress. */
  readonly stallLiveMs: number;
  /** A slice whose handler throws (broker, registry, network) is retried after a jittered backoff from this... */
  readonly retryInitialMs: number;
  /** ...doubling up to this. */
  readonly retryMaxMs: number;
  /**
   * Not from the environment: set by `cli replay --connection <id>` on the config of its
   * in-process stage. The stage handles only that connection's records and commits past the
   * others without handling them (no delivery, no outcome). Never set for a live stage.
   */
  readonly onlyConnection?: string | null;
}

/** One key of CONNECTION_SECRET_KEYS: its id (stored beside each sealed value) and its 32 bytes. */
export interface ConnectionSecretKey {
  readonly kid: string;
  /** The 32 bytes of the AES-256 key, base64 as given (validated here: base64 of exactly 32 bytes). */
  readonly key: Secret;
}

/** Connections (docs/CONNECTIONS.md): the keys that seal their secrets and the default connection. */
export interface ConnectionsConfig {
  /** CONNECTION_SECRET_KEYS: the first seals, every one unseals; empty = only the default connection exists. */
  readonly secretKeys: readonly ConnectionSecretKey[];
  /** CONNECTIONS_DEFAULT (default on): the connection made from today's variables. */
  readonly defaultConnection: boolean;
  /** CONNECTIONS_SEED_EXAMPLES (default off): a new connection gets an example profile and one event of each metric. */
  readonly seedExamples: boolean;
}

export interface Config {
  readonly app: AppName;
  readonly logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** json lines (production) or pretty (a terminal); default pretty on a TTY. */
  readonly logFormat: 'json' | 'pretty';
  readonly stage: StageHealthConfig;
  readonly kafka: KafkaConfig;
  readonly ingest: IngestConfig;
  readonly intercom: IntercomApiConfig;
  readonly transformer: TransformerConfig;
  readonly klaviyo: KlaviyoConfig;
  readonly sink: SinkConfig;
  readonly console: ConsoleConfig;
  readonly reconciler: ReconcilerConfig;
  readonly connections: ConnectionsConfig;
  /** The console's OAuth flows (issue #23): see consoleOAuthConfig below. */
  readonly consoleOAuth: ConsoleOAuthConfig;
}

export class ConfigError extends Error {
  readonly retriable = false;
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Published in the README and the demo: accepted only on a loopback bind (see loadConfig). */
export const LOCAL_DEV_CLIENT_SECRET = 'local-dev-secret';

/**
 * Room left in a record of the raw topic for what is not the body: the Confluent framing, the
 * Avro metadata fields, the key and the record batch overhead (61 bytes). Ingest checks each
 * encoded record as well and answers 413 for one that does not fit.
 */
export const RAW_RECORD_HEADROOM_BYTES = 16 * 1024;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }
  str(name: string, def: string): string {
    return this.raw(name) ?? def;
  }
  int(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name}="${v}" must be an integer between ${min} and ${max}`);
      return def;
    }
    return n;
  }
  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    this.problems.push(`${name}="${v}" must be true or false`);
    return def;
  }
  url(name: string, def: string): string {
    const v = this.str(name, def);
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    } catch {
      this.problems.push(`${name}="${v}" must be an http(s) URL`);
    }
    return v.replace(/\/+$/, '');
  }
  /** A comma-separated list of http(s) URLs. */
  urls(name: string, def: string): string[] {
    const v = this.str(name, def);
    const list = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    for (const u of list) {
      try {
        if (!/^https?:$/.test(new URL(u).protocol)) throw new Error('protocol');
      } catch {
        this.problems.push(`${name}: "${u}" must be an http(s) URL`);
      }
    }
    if (list.length === 0) this.problems.push(`${name} must name at least one URL`);
    return list;
  }
  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name}="${v}" must be one of ${allowed.join(', ')}`);
      return def;
    }
    return v as T;
  }
  secret(name: string): Secret | null {
    const v = this.raw(name);
    return v === undefined ? null : new Secret(v);
  }
}

/** Display name (what METRIC_NAME_OVERRIDES is keyed by) → the mapping's metric key. */
const METRIC_KEY_BY_NAME: ReadonlyMap<string, MetricKey> = new Map(
  (Object.entries(METRICS) as Array<[MetricKey, string]>).map(([key, name]) => [name, key]),
);

/** `{"<default metric name>": "<new name>"}` → overrides by metric key; problems name the variable and the key. */
function metricNameOverrides(r: Reader): Partial<Record<MetricKey, string>> {
  const raw = r.raw('METRIC_NAME_OVERRIDES');
  if (!raw) return {};
  const { value, problems } = parseMetricNameOverrides(raw, 'METRIC_NAME_OVERRIDES');
  r.problems.push(...problems);
  return value;
}

/**
 * The METRIC_NAME_OVERRIDES format (also a connection's `--metric-name-overrides`): a JSON
 * object of default metric name to new name, turned into overrides by metric key; each problem
 * names `what` and the metric.
 */
export function parseMetricNameOverrides(
  raw: string,
  what: string,
): { value: Partial<Record<MetricKey, string>>; problems: string[] } {
  const problems: string[] = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    problems.push(`${what} must be a JSON object of metric name to new name (${(e as Error).message})`);
    return { value: {}, problems };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(
      `${what} must be a JSON object of metric name to new name, like {"Ticket Resolved":"Intercom Ticket Resolved"}`,
    );
    return { value: {}, problems };
  }
  const out: Partial<Record<MetricKey, string>> = {};
  for (const [name, value] of Object.entries(parsed)) {
    const key = METRIC_KEY_BY_NAME.get(name);
    if (key === undefined)
      problems.push(`${what} has unknown metric "${name}" (known: ${[...METRIC_KEY_BY_NAME.keys()].join(', ')})`);
    else if (typeof value !== 'string' || value.trim() === '')
      problems.push(`${what}["${name}"] must be a non-empty string`);
    else out[key] = value.trim();
  }
  return { value: out, problems };
}

/** Key ids: what is stored beside each sealed value and printed by `cli connections list`. */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * CONNECTION_SECRET_KEYS = `<kid>:<base64 of 32 bytes>[,<kid>:<base64>…]`. Problems name the
 * variable and the key id (or the entry's position), never the key material.
 */
function connectionSecretKeys(r: Reader): ConnectionSecretKey[] {
  const name = 'CONNECTION_SECRET_KEYS';
  const raw = r.raw(name);
  if (raw === undefined) return [];
  const out: ConnectionSecretKey[] = [];
  const seen = new Set<string>();
  raw.split(',').forEach((entry, i) => {
    const text = entry.trim();
    const colon = text.indexOf(':');
    const kid = colon > 0 ? text.slice(0, colon).trim() : '';
    const b64 = colon > 0 ? text.slice(colon + 1).trim() : '';
    const where = `${name} entry ${i + 1}`;
    if (colon <= 0 || b64 === '') {
      r.problems.push(`${where} must be <key id>:<base64 of 32 bytes> (generate a key with: openssl rand -base64 32)`);
      return;
    }
    if (!KEY_ID.test(kid)) {
      r.problems.push(`${where}: key id must be 1-64 letters, digits, dots, dashes or underscores`);
      return;
    }
    if (seen.has(kid)) {
      r.problems.push(`${name}: key id "${kid}" is listed twice (each key needs its own id)`);
      return;
    }
    seen.add(kid);
    if (b64.length % 4 !== 0 || !BASE64.test(b64)) {
      r.problems.push(`${name}: key "${kid}" is not valid base64 (generate a key with: openssl rand -base64 32)`);
      return;
    }
    const bytes = Buffer.from(b64, 'base64').length;
    if (bytes !== 32) {
      r.problems.push(`${name}: key "${kid}" is ${bytes} bytes, must be 32 (AES-256; openssl rand -base64 32)`);
      return;
    }
    out.push({ kid, key: new Secret(b64) });
  });
  return out;
}

export function loadConfig(env: Env = process.env, app: AppName = 'cli'): Config {
  const r = new Reader(env);

  const brokers = r
    .str('KAFKA_BROKERS', '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  for (const b of brokers)
    if (!/^[^:\s]+:\d{1,5}$/.test(b)) r.problems.push(`KAFKA_BROKERS entry "${b}" must be host:port`);
  const saslMechanism = r.raw('KAFKA_SASL_MECHANISM');
  let sasl: KafkaConfig['sasl'] = null;
  if (saslMechanism) {
    const mechanism = r.oneOf('KAFKA_SASL_MECHANISM', 'plain', ['plain', 'scram-sha-256', 'scram-sha-512'] as const);
    const username = r.raw('KAFKA_SASL_USERNAME');
    const password = r.secret('KAFKA_SASL_PASSWORD');
    if (!username) r.problems.push('KAFKA_SASL_USERNAME is required when KAFKA_SASL_MECHANISM is set');
    if (!password) r.problems.push('KAFKA_SASL_PASSWORD is required when KAFKA_SASL_MECHANISM is set');
    sasl = { mechanism, username: username ?? '', password: password ?? new Secret('') };
  }
  const srUser = r.raw('SCHEMA_REGISTRY_USERNAME');
  const srPass = r.secret('SCHEMA_REGISTRY_PASSWORD');

  const metricNames = metricNameOverrides(r);

  const ingestHost = r.str('INGEST_HOST', '0.0.0.0');
  const secrets = (r.raw('INTERCOM_CLIENT_SECRET') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // The local secret is public (README, demo): accept it only where the network cannot reach.
  const usesLocalDevSecret = app === 'ingest' && secrets.length === 0 && isLoopbackHost(ingestHost);
  if (usesLocalDevSecret) secrets.push(LOCAL_DEV_CLIENT_SECRET);
  if (app === 'ingest' && secrets.length === 0) {
    r.problems.push(
      `INTERCOM_CLIENT_SECRET is required by ingest when INGEST_HOST="${ingestHost}" is not a loopback address ` +
        '(the Intercom app client secret; comma-separated for rotation)',
    );
  }
  const topicMaxMessageBytes = r.int('KAFKA_TOPIC_MAX_MESSAGE_BYTES', 2 * 1024 * 1024, 64 * 1024, 100 * 1024 * 1024);
  const maxBodyLimit = topicMaxMessageBytes - RAW_RECORD_HEADROOM_BYTES;
  const bodyLimitBytes = r.int('INGEST_BODY_LIMIT_BYTES', Math.min(1024 * 1024, maxBodyLimit), 1024, 100 * 1024 * 1024);
  if (bodyLimitBytes > maxBodyLimit) {
    r.problems.push(
      `INGEST_BODY_LIMIT_BYTES="${bodyLimitBytes}" must be at most ${maxBodyLimit} (KAFKA_TOPIC_MAX_MESSAGE_BYTES=${topicMaxMessageBytes} ` +
        `less ${RAW_RECORD_HEADROOM_BYTES} bytes for the record's framing), or a webhook could be accepted by HTTP and refused by Kafka`,
    );
  }
  const phoneRegion = r.raw('DEFAULT_PHONE_REGION');
  if (phoneRegion && !/^[A-Z]{2}$/.test(phoneRegion))
    r.problems.push(`DEFAULT_PHONE_REGION="${phoneRegion}" must be an ISO 3166 alpha-2 code like US`);

  const sinkHttpPort = r.int('SINK_HTTP_PORT', 3002, 0, 65535);
  const consoleHost = r.str('CONSOLE_HOST', '127.0.0.1');
  const consoleToken = r.secret('CONSOLE_TOKEN');
  const consoleOperatorToken = r.secret('CONSOLE_OPERATOR_TOKEN');
  if (app === 'console' && !consoleToken && !isLoopbackHost(consoleHost)) {
    r.problems.push(
      `CONSOLE_TOKEN is required when CONSOLE_HOST="${consoleHost}" is not a loopback address (the console shows people's emails and events)`,
    );
  }
  if (consoleOperatorToken && consoleToken && consoleOperatorToken.reveal() === consoleToken.reveal()) {
    r.problems.push('CONSOLE_OPERATOR_TOKEN must differ from CONSOLE_TOKEN (actions need more than read access)');
  }
  for (const [name, t] of [
    ['CONSOLE_TOKEN', consoleToken],
    ['CONSOLE_OPERATOR_TOKEN', consoleOperatorToken],
  ] as const) {
    if (t && t.reveal().length < 16) r.problems.push(`${name} must be at least 16 characters`);
  }

  const config: Config = {
    app,
    logLevel: r.oneOf('LOG_LEVEL', 'log', ['error', 'warn', 'log', 'debug', 'verbose'] as const),
    logFormat: r.oneOf('LOG_FORMAT', process.stdout.isTTY ? 'pretty' : 'json', ['json', 'pretty'] as const),
    stage: {
      stallReadyMs: r.int('STAGE_STALL_READY_MS', 120_000, 1000),
      stallLiveMs: r.int('STAGE_STALL_LIVE_MS', 15 * 60_000, 1000),
      retryInitialMs: r.int('STAGE_RETRY_INITIAL_MS', 500, 1),
      retryMaxMs: r.int('STAGE_RETRY_MAX_MS', 30_000, 1),
    },
    kafka: {
      brokers,
      clientId: r.str('KAFKA_CLIENT_ID', `intercom-klaviyo-sync-${app}`),
      ssl: r.bool('KAFKA_SSL', false),
      sasl,
      schemaRegistryUrl: r.url('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:8081/apis/ccompat/v7'),
      schemaRegistryAuth: srUser && srPass ? { username: srUser, password: srPass } : null,
      topicPrefix: r.str('TOPIC_PREFIX', ''),
      partitions: r.int('KAFKA_TOPIC_PARTITIONS', 3, 1, 1000),
      replicationFactor: r.int('KAFKA_REPLICATION_FACTOR', 1, 1, 10),
      topicMaxMessageBytes,
      compression: r.oneOf('KAFKA_COMPRESSION', 'gzip', ['gzip', 'lz4'] as const),
    },
    ingest: {
      host: ingestHost,
      port: r.int('INGEST_PORT', 3000, 0, 65535),
      clientSecrets: secrets.map((s) => new Secret(s)),
      usesLocalDevSecret,
      bodyLimitBytes,
      ackTimeoutMs: r.int('INGEST_ACK_TIMEOUT_MS', 4000, 100, 60000),
      requestTimeoutMs: r.int('INGEST_REQUEST_TIMEOUT_MS', 10_000, 500, 300_000),
      metricsHost: r.str('INGEST_METRICS_HOST', '127.0.0.1'),
      metricsPort: r.int('INGEST_METRICS_PORT', 0, 0, 65535),
    },
    intercom: {
      accessToken: r.secret('INTERCOM_ACCESS_TOKEN'),
      baseUrl: r.url('INTERCOM_BASE_URL', 'https://api.intercom.io'),
      version: r.str('INTERCOM_VERSION', '2.14'),
    },
    transformer: {
      groupId: r.str('TRANSFORMER_GROUP_ID', 'iks-transformer'),
      httpPort: r.int('TRANSFORMER_HTTP_PORT', 3001, 0, 65535),
      httpHost: r.str('TRANSFORMER_HTTP_HOST', '0.0.0.0'),
      metricNames,
      contactWaitMaxMs: r.int('CONTACT_WAIT_MAX_MS', 24 * 3600 * 1000, 0),
      contactRetryInitialMs: r.int('CONTACT_RETRY_INITIAL_MS', 30_000, 10),
      directoryRefreshMs: r.int('DIRECTORY_REFRESH_MS', 15 * 60 * 1000, 1000),
      reconcileBackfillAfterMs: r.int('RECONCILE_BACKFILL_AFTER_MS', 24 * 3600 * 1000, 0),
      directoryPath: r.str(
        'DIRECTORY_PATH',
        defaultStorePath('iks-directory', r.str('TOPIC_PREFIX', ''), r.str('TRANSFORMER_GROUP_ID', 'iks-transformer')),
      ),
      directoryCacheContacts: r.int('DIRECTORY_CACHE_CONTACTS', 10_000, 0, 10_000_000),
      deleteOnArchive: r.bool('DELETE_ON_ARCHIVE', false),
      defaultPhoneRegion: phoneRegion ?? null,
    },
    klaviyo: {
      apiKey: r.secret('KLAVIYO_API_KEY'),
      baseUrl: r.url('KLAVIYO_BASE_URL', 'https://a.klaviyo.com'),
      revision: r.str('KLAVIYO_REVISION', KLAVIYO_REVISION),
      oauth: {
        clientId: r.raw('KLAVIYO_OAUTH_CLIENT_ID') ?? null,
        clientSecret: r.secret('KLAVIYO_OAUTH_CLIENT_SECRET'),
        tokenUrl: r.url('KLAVIYO_OAUTH_TOKEN_URL', 'https://a.klaviyo.com/oauth/token'),
        refreshBeforeMs: r.int('KLAVIYO_OAUTH_REFRESH_BEFORE_MS', 5 * 60_000, 0, 24 * 3600_000),
        adoptWaitMs: r.int('KLAVIYO_OAUTH_ADOPT_WAIT_MS', 5000, 0, 120_000),
      },
    },
    sink: {
      groupId: r.str('SINK_GROUP_ID', 'iks-sink'),
      httpPort: sinkHttpPort,
      httpHost: r.str('SINK_HTTP_HOST', '0.0.0.0'),
      batchMaxEvents: r.int('SINK_BATCH_MAX_EVENTS', 1000, 1, 1000),
      batchMaxWaitMs: r.int('SINK_BATCH_MAX_WAIT_MS', 250, 0, 60000),
      retryMaxMs: r.int('SINK_RETRY_MAX_MS', 6 * 3600 * 1000, 1000),
      retryMaxDelayMs: r.int('SINK_RETRY_MAX_DELAY_MS', 30_000, 100, 60_000),
      requestTimeoutMs: r.int('KLAVIYO_REQUEST_TIMEOUT_MS', 30_000, 100),
      accountTripMs: r.int('SINK_ACCOUNT_TRIP_MS', 10_000, 0, 3_600_000),
      deletedContactsPath: r.str(
        'SINK_DELETED_CONTACTS_PATH',
        defaultStorePath('iks-sink-deleted', r.str('TOPIC_PREFIX', ''), r.str('SINK_GROUP_ID', 'iks-sink')),
      ),
    },
    console: {
      host: consoleHost,
      port: r.int('CONSOLE_PORT', 3003, 0, 65535),
      token: consoleToken,
      operatorToken: consoleOperatorToken,
      sinkMetricsUrls: r.urls('CONSOLE_SINK_METRICS_URLS', `http://127.0.0.1:${sinkHttpPort}/metrics`),
    },
    reconciler: {
      intervalMs: r.int('RECONCILE_INTERVAL_MS', 15 * 60_000, 1000, 24 * 3600_000),
      windowMs: r.int('RECONCILE_WINDOW_MS', 2 * 3600_000, 1000, 31 * 24 * 3600_000),
      settleMs: r.int('RECONCILE_SETTLE_MS', 2 * 60_000, 0, 24 * 3600_000),
      outageMarginMs: r.int('RECONCILE_OUTAGE_MARGIN_MS', 2 * 60_000, 0, 24 * 3600_000),
      indexDir: r.str('RECONCILE_INDEX_DIR', '.reconcile'),
      appId: r.raw('INTERCOM_APP_ID') ?? null,
      httpPort: r.int('RECONCILER_HTTP_PORT', 3004, 0, 65535),
      httpHost: r.str('RECONCILER_HTTP_HOST', '0.0.0.0'),
    },
    connections: {
      secretKeys: connectionSecretKeys(r),
      defaultConnection: r.bool('CONNECTIONS_DEFAULT', true),
      seedExamples: r.bool('CONNECTIONS_SEED_EXAMPLES', false),
    },
    consoleOAuth: consoleOAuthConfig(r, app),
  };
  if (config.reconciler.windowMs <= config.reconciler.settleMs) {
    r.problems.push(
      `RECONCILE_WINDOW_MS="${config.reconciler.windowMs}" must be longer than RECONCILE_SETTLE_MS="${config.reconciler.settleMs}" (the window would be empty)`,
    );
  }
  if (config.reconciler.windowMs < config.reconciler.intervalMs) {
    r.problems.push(
      `RECONCILE_WINDOW_MS="${config.reconciler.windowMs}" must be at least RECONCILE_INTERVAL_MS="${config.reconciler.intervalMs}", or time between two runs is never reconciled`,
    );
  }
  // the default connection's workspace is reconciled with it; a deployment of added connections only (CONNECTIONS_DEFAULT=off) uses theirs
  if (app === 'reconciler' && config.connections.defaultConnection && !config.intercom.accessToken) {
    r.problems.push(
      'INTERCOM_ACCESS_TOKEN is required by the reconciler (an Intercom access token that can read contacts, conversations and tickets; npm start uses the Intercom emulator when it is unset)',
    );
  }
  if (config.ingest.metricsPort !== 0 && config.ingest.metricsPort === config.ingest.port) {
    r.problems.push(
      `INGEST_METRICS_PORT="${config.ingest.metricsPort}" must differ from INGEST_PORT (0 serves /metrics and health on the webhook port)`,
    );
  }
  if (resolve(config.sink.deletedContactsPath) === resolve(config.transformer.directoryPath)) {
    r.problems.push(
      `SINK_DELETED_CONTACTS_PATH="${config.sink.deletedContactsPath}" must differ from DIRECTORY_PATH (two stores cannot share a folder)`,
    );
  }
  if (app === 'sink' && !config.klaviyo.apiKey && config.connections.defaultConnection) {
    r.problems.push(
      'KLAVIYO_API_KEY is required by sink for the default connection (a Klaviyo private API key; npm start uses the emulator when it is unset; CONNECTIONS_DEFAULT=off for added connections only)',
    );
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

// ---------------------------------------------------------------------------------------------
// The console's OAuth flows (issue #23: Connect Klaviyo, Connect Intercom). A block of its own:
// KLAVIYO_OAUTH_CLIENT_ID / _SECRET / _TOKEN_URL are also read for the sink's token refresh.
// ---------------------------------------------------------------------------------------------

export type OAuthRegion = 'US' | 'EU' | 'AU';

export interface ConsoleOAuthConfig {
  /** CONSOLE_PUBLIC_URL: the console's address as the browser reaches it; the redirect URLs are under it. */
  readonly publicUrl: string | null;
  /** CONSOLE_OAUTH_PENDING_TTL_MS: how long a started authorization (its state, PKCE verifier) is kept. */
  readonly pendingTtlMs: number;
  /** Set when KLAVIYO_OAUTH_CLIENT_ID and _SECRET are: the Connect Klaviyo button. */
  readonly klaviyo: {
    readonly clientId: string;
    readonly clientSecret: Secret;
    readonly authorizeUrl: string;
    readonly tokenUrl: string;
  } | null;
  /** Set when INTERCOM_OAUTH_CLIENT_ID and _SECRET are: the Connect Intercom button. */
  readonly intercom: {
    readonly clientId: string;
    readonly clientSecret: Secret;
    readonly authorizeUrl: string;
  } | null;
  /** Intercom's REST API host per region, INTERCOM_REGION_API_URLS overriding (the emulator). */
  readonly intercomRegionApiUrls: Readonly<Record<OAuthRegion, string>>;
}

const INTERCOM_REGION_API_DEFAULTS: Readonly<Record<OAuthRegion, string>> = {
  US: 'https://api.intercom.io',
  EU: 'https://api.eu.intercom.io',
  AU: 'https://api.au.intercom.io',
};

function consoleOAuthConfig(r: Reader, app: AppName): ConsoleOAuthConfig {
  const pair = (idName: string, secretName: string) => {
    const id = r.raw(idName);
    const secret = r.secret(secretName);
    if (id && !secret)
      r.problems.push(`${secretName} is required when ${idName} is set (the OAuth app's client secret)`);
    if (!id && secret) r.problems.push(`${idName} is required when ${secretName} is set (the OAuth app's client id)`);
    return id && secret ? { clientId: id, clientSecret: secret } : null;
  };
  const k = pair('KLAVIYO_OAUTH_CLIENT_ID', 'KLAVIYO_OAUTH_CLIENT_SECRET');
  const i = pair('INTERCOM_OAUTH_CLIENT_ID', 'INTERCOM_OAUTH_CLIENT_SECRET');
  const klaviyoAuthorize = r.url('KLAVIYO_OAUTH_AUTHORIZE_URL', 'https://www.klaviyo.com/oauth/authorize');
  const klaviyoToken = r.url('KLAVIYO_OAUTH_TOKEN_URL', 'https://a.klaviyo.com/oauth/token');
  const intercomAuthorize = r.url('INTERCOM_OAUTH_AUTHORIZE_URL', 'https://app.intercom.com/oauth');
  const regions: Record<OAuthRegion, string> = { ...INTERCOM_REGION_API_DEFAULTS };
  const rawRegions = r.raw('INTERCOM_REGION_API_URLS');
  for (const entry of (rawRegions ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf('=');
    const region = eq > 0 ? entry.slice(0, eq).trim().toUpperCase() : '';
    const url = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (!(region in regions)) {
      r.problems.push(`INTERCOM_REGION_API_URLS entry "${entry.slice(0, 80)}" must be <US|EU|AU>=<http(s) URL>`);
      continue;
    }
    try {
      if (!/^https?:$/.test(new URL(url).protocol)) throw new Error('protocol');
    } catch {
      r.problems.push(`INTERCOM_REGION_API_URLS: "${url.slice(0, 80)}" for ${region} must be an http(s) URL`);
      continue;
    }
    regions[region as OAuthRegion] = url.replace(/\/+$/, '');
  }
  const publicUrl = r.raw('CONSOLE_PUBLIC_URL') ? r.url('CONSOLE_PUBLIC_URL', '') : null;
  if (publicUrl) {
    const problem = publicUrlProblem(publicUrl);
    if (problem) r.problems.push(`CONSOLE_PUBLIC_URL="${publicUrl}" ${problem}`);
  } else if (app === 'console' && (k || i)) {
    r.problems.push(
      'CONSOLE_PUBLIC_URL is required when KLAVIYO_OAUTH_CLIENT_ID or INTERCOM_OAUTH_CLIENT_ID is set (the OAuth redirect URLs are under it)',
    );
  }
  return {
    publicUrl,
    pendingTtlMs: r.int('CONSOLE_OAUTH_PENDING_TTL_MS', 10 * 60_000, 1000, 3_600_000),
    klaviyo: k ? { ...k, authorizeUrl: klaviyoAuthorize, tokenUrl: klaviyoToken } : null,
    intercom: i ? { ...i, authorizeUrl: intercomAuthorize } : null,
    intercomRegionApiUrls: regions,
  };
}

/** Why a public URL cannot carry OAuth redirects: https is required off loopback (RFC 6749 3.1.2.1, RFC 8252 7.3). */
export function publicUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be an http(s) URL';
  }
  if (u.search || u.hash) return 'must have no query or fragment';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return null;
  return 'must be https (http only on a loopback address): the OAuth redirect URL carries the authorization code';
}

/** <tmp>/<folder>/<prefix><group>-<host>: one store per pipeline, group and host (a container has its own host name). */
function defaultStorePath(folder: string, topicPrefix: string, groupId: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return join(tmpdir(), folder, safe(`${topicPrefix}${groupId}-${hostname()}`));
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
