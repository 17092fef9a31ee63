import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { METRICS, metricName } from '@iks/mapping';
import { ConfigError, LOCAL_DEV_CLIENT_SECRET, loadConfig, RAW_RECORD_HEADROOM_BYTES } from './config';

describe('loadConfig', () => {
  it('gives local defaults', () => {
    const c = loadConfig({}, 'transformer');
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.kafka.schemaRegistryUrl).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(c.ingest.port).toBe(3000);
    expect(c.klaviyo.revision).toBe('2026-07-15');
  });

  it("keeps the sink's deleted contacts in a folder per topic prefix, group and host, or SINK_DELETED_CONTACTS_PATH; never the directory's", () => {
    const key = { KLAVIYO_API_KEY: 'pk_test_0123456789' };
    const c = loadConfig({ ...key, TOPIC_PREFIX: 'acme.', SINK_GROUP_ID: 'sink-a' }, 'sink');
    expect(c.sink.deletedContactsPath).toBe(join(tmpdir(), 'iks-sink-deleted', `acme.sink-a-${hostname()}`));
    expect(loadConfig({ ...key, SINK_DELETED_CONTACTS_PATH: '/data/deleted' }, 'sink').sink.deletedContactsPath).toBe(
      '/data/deleted',
    );
    expect(() =>
      loadConfig({ ...key, SINK_DELETED_CONTACTS_PATH: '/data/s', DIRECTORY_PATH: '/data/s/' }, 'sink'),
    ).toThrow(/SINK_DELETED_CONTACTS_PATH="\/data\/s" must differ from DIRECTORY_PATH/);
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig(
        { INGEST_PORT: 'abc', KAFKA_BROKERS: 'nohost', SCHEMA_REGISTRY_URL: 'ftp://x', KAFKA_SSL: 'maybe' },
        'ingest',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['INGEST_PORT', 'KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'KAFKA_SSL', 'INTERCOM_CLIENT_SECRET']) {
      expect(msg).toContain(name);
    }
  });

  it('KAFKA_COMPRESSION: gzip unless lz4 is asked for; anything else names the variable', () => {
    expect(loadConfig({}, 'cli').kafka.compression).toBe('gzip');
    expect(loadConfig({ KAFKA_COMPRESSION: 'lz4' }, 'cli').kafka.compression).toBe('lz4');
    expect(() => loadConfig({ KAFKA_COMPRESSION: 'zstd' }, 'cli')).toThrow(/KAFKA_COMPRESSION/);
  });

  it('never prints secrets', () => {
    const c = loadConfig({ INTERCOM_CLIENT_SECRET: 's3cr3t-a,s3cr3t-b', KLAVIYO_API_KEY: 'pk_live_123' }, 'sink');
    const printed = JSON.stringify(c) + inspect(c, { depth: 10 }) + String(c.klaviyo.apiKey);
    expect(printed).not.toMatch(/s3cr3t|pk_live_123/);
    expect(c.ingest.clientSecrets.map((s) => s.reveal())).toEqual(['s3cr3t-a', 's3cr3t-b']);
  });

  it('validates metric renames, keyed by the display names the README documents', () => {
    // The variable names metrics as MAPPING.md does; the config hands the mapping its keys.
    expect(
      loadConfig({ METRIC_NAME_OVERRIDES: '{"Ticket Resolved":"Intercom Ticket Resolved"}' }).transformer.metricNames,
    ).toEqual({
      ticketResolved: 'Intercom Ticket Resolved',
    });
    expect(() => loadConfig({ METRIC_NAME_OVERRIDES: '{"Nope":"x"}' })).toThrow(/METRIC_NAME_OVERRIDES/);
  });

  it.each([
    ['{"Nope":"x"}', 'METRIC_NAME_OVERRIDES has unknown metric "Nope" (known: Conversation Created,'],
    // the mapping's internal keys are not the documented names
    ['{"ticketResolved":"x"}', 'METRIC_NAME_OVERRIDES has unknown metric "ticketResolved"'],
    ['{"Ticket Resolved":""}', 'METRIC_NAME_OVERRIDES["Ticket Resolved"] must be a non-empty string'],
    ['{"Ticket Resolved":7}', 'METRIC_NAME_OVERRIDES["Ticket Resolved"] must be a non-empty string'],
    ['["Ticket Resolved"]', 'METRIC_NAME_OVERRIDES must be a JSON object of metric name to new name'],
    ['{"Ticket Resolved":', 'METRIC_NAME_OVERRIDES must be a JSON object of metric name to new name'],
  ])('refuses METRIC_NAME_OVERRIDES=%s at start, naming the variable and the key', (value, message) => {
    expect(() => loadConfig({ METRIC_NAME_OVERRIDES: value })).toThrow(ConfigError);
    expect(() => loadConfig({ METRIC_NAME_OVERRIDES: value })).toThrow(message);
  });

  it('the renames reach the mapping: a resolved ticket is sent under the new name, other metrics keep theirs', () => {
    const { metricNames } = loadConfig({
      METRIC_NAME_OVERRIDES: '{"Ticket Resolved":"Support Ticket Closed","Conversation Rated":"CSAT"}',
    }).transformer;
    expect(metricName('ticketResolved', metricNames)).toBe('Support Ticket Closed');
    expect(metricName('conversationRated', metricNames)).toBe('CSAT');
    expect(metricName('ticketCreated', metricNames)).toBe(METRICS.ticketCreated);
  });
});

describe('loadConfig: ingest deployment defaults', () => {
  it('refuses to start ingest on a network interface without INTERCOM_CLIENT_SECRET', () => {
    expect(() => loadConfig({}, 'ingest')).toThrow(
      /INTERCOM_CLIENT_SECRET is required by ingest when INGEST_HOST="0.0.0.0"/,
    );
    expect(() => loadConfig({ INGEST_HOST: '10.0.0.5' }, 'ingest')).toThrow(/INTERCOM_CLIENT_SECRET/);
  });

  it('uses the published local secret only on a loopback bind, and says so', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      const c = loadConfig({ INGEST_HOST: host }, 'ingest');
      expect(c.ingest.usesLocalDevSecret).toBe(true);
      expect(c.ingest.clientSecrets.map((s) => s.reveal())).toEqual([LOCAL_DEV_CLIENT_SECRET]);
    }
    const real = loadConfig({ INGEST_HOST: '127.0.0.1', INTERCOM_CLIENT_SECRET: 'real' }, 'ingest');
    expect(real.ingest.usesLocalDevSecret).toBe(false);
    expect(real.ingest.clientSecrets.map((s) => s.reveal())).toEqual(['real']);
  });

  it('keeps the body limit below what the raw topic accepts', () => {
    const c = loadConfig({ INTERCOM_CLIENT_SECRET: 's' }, 'ingest');
    expect(c.kafka.topicMaxMessageBytes).toBe(2 * 1024 * 1024);
    expect(c.ingest.bodyLimitBytes).toBe(1024 * 1024);
    expect(c.ingest.bodyLimitBytes + RAW_RECORD_HEADROOM_BYTES).toBeLessThanOrEqual(c.kafka.topicMaxMessageBytes);
    expect(() =>
      loadConfig({ INTERCOM_CLIENT_SECRET: 's', INGEST_BODY_LIMIT_BYTES: String(2 * 1024 * 1024) }, 'ingest'),
    ).toThrow(/INGEST_BODY_LIMIT_BYTES="2097152" must be at most 2080768/);
    // a smaller topic limit lowers the default body limit with it
    const small = loadConfig(
      { INTERCOM_CLIENT_SECRET: 's', KAFKA_TOPIC_MAX_MESSAGE_BYTES: String(512 * 1024) },
      'ingest',
    );
    expect(small.ingest.bodyLimitBytes).toBe(512 * 1024 - RAW_RECORD_HEADROOM_BYTES);
  });

  it('has a request timeout and an optional metrics listener off the webhook port', () => {
    const c = loadConfig({ INTERCOM_CLIENT_SECRET: 's' }, 'ingest');
    expect(c.ingest.requestTimeoutMs).toBe(10_000);
    expect(c.ingest.metricsPort).toBe(0);
    expect(c.ingest.metricsHost).toBe('127.0.0.1');
    expect(() => loadConfig({ INTERCOM_CLIENT_SECRET: 's', INGEST_METRICS_PORT: '3000' }, 'ingest')).toThrow(
      /INGEST_METRICS_PORT/,
    );
  });

  it('console: loopback by default; any other host needs CONSOLE_TOKEN; the operator token is separate', () => {
    const c = loadConfig({}, 'console');
    expect(c.console).toMatchObject({ host: '127.0.0.1', port: 3003, token: null, operatorToken: null });
    expect(() => loadConfig({ CONSOLE_HOST: '0.0.0.0' }, 'console')).toThrow(/CONSOLE_TOKEN is required/);
    expect(
      loadConfig({ CONSOLE_HOST: '0.0.0.0', CONSOLE_TOKEN: 'read-only-token-0123' }, 'console').console.token?.reveal(),
    ).toBe('read-only-token-0123');
    expect(() =>
      loadConfig({ CONSOLE_TOKEN: 'same-token-0123456', CONSOLE_OPERATOR_TOKEN: 'same-token-0123456' }, 'console'),
    ).toThrow(/must differ/);
    expect(() => loadConfig({ CONSOLE_OPERATOR_TOKEN: 'short' }, 'console')).toThrow(/at least 16/);
    const printed = JSON.stringify(
      loadConfig({ CONSOLE_TOKEN: 'read-only-token-0123', CONSOLE_OPERATOR_TOKEN: 'operator-token-01234' }, 'console'),
    );
    expect(printed).not.toMatch(/read-only-token|operator-token/);
  });

  it('console: scrapes the sink on SINK_HTTP_PORT by default, or the replicas CONSOLE_SINK_METRICS_URLS names', () => {
    expect(loadConfig({ SINK_HTTP_PORT: '4002' }, 'console').console.sinkMetricsUrls).toEqual([
      'http://127.0.0.1:4002/metrics',
    ]);
    expect(
      loadConfig({ CONSOLE_SINK_METRICS_URLS: 'http://sink-1:3002/metrics, http://sink-2:3002/metrics' }, 'console')
        .console.sinkMetricsUrls,
    ).toEqual(['http://sink-1:3002/metrics', 'http://sink-2:3002/metrics']);
    expect(() => loadConfig({ CONSOLE_SINK_METRICS_URLS: 'http://sink-1:3002/metrics,ftp://x' }, 'console')).toThrow(
      /CONSOLE_SINK_METRICS_URLS: "ftp:\/\/x" must be an http\(s\) URL/,
    );
  });

  it('reads the continuous reconcile settings (every 15 min over the last 2 h by default) and checks they make a window', () => {
    const c = loadConfig({ INTERCOM_ACCESS_TOKEN: 't' }, 'reconciler');
    expect(c.reconciler).toMatchObject({
      intervalMs: 900_000,
      windowMs: 7_200_000,
      settleMs: 120_000,
      indexDir: '.reconcile',
      appId: null,
      httpPort: 3004,
    });
    expect(() => loadConfig({}, 'reconciler')).toThrow(/INTERCOM_ACCESS_TOKEN is required by the reconciler/);
    expect(() => loadConfig({ RECONCILE_WINDOW_MS: '60000', RECONCILE_INTERVAL_MS: '120000' })).toThrow(
      /RECONCILE_WINDOW_MS="60000" must be at least RECONCILE_INTERVAL_MS/,
    );
    expect(() =>
      loadConfig({ RECONCILE_WINDOW_MS: '60000', RECONCILE_SETTLE_MS: '60000', RECONCILE_INTERVAL_MS: '1000' }),
    ).toThrow(/RECONCILE_SETTLE_MS/);
    expect(() => loadConfig({ RECONCILE_INTERVAL_MS: 'soon' })).toThrow(/RECONCILE_INTERVAL_MS="soon"/);
  });

  describe('CONNECTION_SECRET_KEYS and CONNECTIONS_DEFAULT', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const problems = (value: string): string => {
      try {
        loadConfig({ CONNECTION_SECRET_KEYS: value }, 'cli');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error(`CONNECTION_SECRET_KEYS=${value} was accepted`);
    };

    it('reads the keys in order (the first seals), keeps them secret, and has the default connection on unless off', () => {
      const c = loadConfig({ CONNECTION_SECRET_KEYS: ` k2026:${k2} , old.1:${k1}` }, 'cli');
      expect(c.connections.secretKeys.map((k) => k.kid)).toEqual(['k2026', 'old.1']);
      expect(c.connections.secretKeys.map((k) => k.key.reveal())).toEqual([k2, k1]);
      expect(inspect(c.connections)).not.toContain(k2);
      expect(JSON.stringify(c.connections)).not.toContain(k2);
      expect(c.connections.defaultConnection).toBe(true);
      expect(loadConfig({}, 'cli').connections.secretKeys).toEqual([]);
      expect(loadConfig({ CONNECTIONS_DEFAULT: 'off' }, 'cli').connections.defaultConnection).toBe(false);
      expect(() => loadConfig({ CONNECTIONS_DEFAULT: 'sometimes' }, 'cli')).toThrow(/CONNECTIONS_DEFAULT="sometimes"/);
    });

    it('refuses bad base64, a wrong length, a duplicate key id and a malformed entry, naming the variable and never the key', () => {
      expect(problems(`a:${k1.slice(0, -2)}!!`)).toMatch(/CONNECTION_SECRET_KEYS: key "a" is not valid base64/);
      const short = Buffer.alloc(16, 7).toString('base64');
      const msg = problems(`a:${short}`);
      expect(msg).toMatch(/CONNECTION_SECRET_KEYS: key "a" is 16 bytes, must be 32/);
      expect(msg).not.toContain(short);
      expect(problems(`a:${k1},a:${k2}`)).toMatch(/CONNECTION_SECRET_KEYS: key id "a" is listed twice/);
      expect(problems(`a:${k1},${k2}`)).toMatch(/CONNECTION_SECRET_KEYS entry 2 must be <key id>:<base64 of 32 bytes>/);
      expect(problems(`a b:${k1}`)).toMatch(/CONNECTION_SECRET_KEYS entry 1: key id must be/);
    });
  });

  describe("the console's OAuth flows (issue #23)", () => {
    const klaviyo = { KLAVIYO_OAUTH_CLIENT_ID: 'kid-1', KLAVIYO_OAUTH_CLIENT_SECRET: 'ksecret-0123456789' };
    const intercom = { INTERCOM_OAUTH_CLIENT_ID: 'iid-1', INTERCOM_OAUTH_CLIENT_SECRET: 'isecret-0123456789' };

    it("is off by default, with the vendors' URLs and region hosts", () => {
      const c = loadConfig({}, 'console').consoleOAuth;
      expect(c).toEqual({
        publicUrl: null,
        pendingTtlMs: 600_000,
        klaviyo: null,
        intercom: null,
        intercomRegionApiUrls: {
          US: 'https://api.intercom.io',
          EU: 'https://api.eu.intercom.io',
          AU: 'https://api.au.intercom.io',
        },
      });
    });

    it('reads both apps, keeps their secrets secret, and overrides region hosts', () => {
      const c = loadConfig(
        {
          ...klaviyo,
          ...intercom,
          CONSOLE_PUBLIC_URL: 'https://sync.example.com/',
          INTERCOM_REGION_API_URLS: 'US=http://127.0.0.1:8091, eu=http://127.0.0.1:8092/',
          CONSOLE_OAUTH_PENDING_TTL_MS: '60000',
        },
        'console',
      ).consoleOAuth;
      expect(c.publicUrl).toBe('https://sync.example.com');
      expect(c.pendingTtlMs).toBe(60_000);
      expect(c.klaviyo).toMatchObject({
        clientId: 'kid-1',
        authorizeUrl: 'https://www.klaviyo.com/oauth/authorize',
        tokenUrl: 'https://a.klaviyo.com/oauth/token',
      });
      expect(c.klaviyo!.clientSecret.reveal()).toBe('ksecret-0123456789');
      expect(c.intercom).toMatchObject({ clientId: 'iid-1', authorizeUrl: 'https://app.intercom.com/oauth' });
      expect(c.intercomRegionApiUrls).toEqual({
        US: 'http://127.0.0.1:8091',
        EU: 'http://127.0.0.1:8092',
        AU: 'https://api.au.intercom.io',
      });
      expect(JSON.stringify(c)).not.toContain('secret-0123456789');
      expect(inspect(c)).not.toContain('secret-0123456789');
    });

    it('refuses to start without HTTPS off loopback, without CONSOLE_PUBLIC_URL, or with half an app, naming the variable', () => {
      expect(() => loadConfig({ ...klaviyo, CONSOLE_PUBLIC_URL: 'http://sync.example.com' }, 'console')).toThrow(
        /CONSOLE_PUBLIC_URL="http:\/\/sync.example.com" must be https \(http only on a loopback address\)/,
      );
      expect(
        loadConfig({ ...klaviyo, CONSOLE_PUBLIC_URL: 'http://127.0.0.1:3003' }, 'console').consoleOAuth.publicUrl,
      ).toBe('http://127.0.0.1:3003');
      expect(
        loadConfig({ ...klaviyo, CONSOLE_PUBLIC_URL: 'http://localhost:3003' }, 'console').consoleOAuth.publicUrl,
      ).toBe('http://localhost:3003');
      expect(() => loadConfig({ ...intercom }, 'console')).toThrow(/CONSOLE_PUBLIC_URL is required when/);
      expect(() =>
        loadConfig({ KLAVIYO_OAUTH_CLIENT_ID: 'kid', CONSOLE_PUBLIC_URL: 'https://x.example' }, 'console'),
      ).toThrow(/KLAVIYO_OAUTH_CLIENT_SECRET is required when KLAVIYO_OAUTH_CLIENT_ID is set/);
      expect(() =>
        loadConfig({ INTERCOM_OAUTH_CLIENT_SECRET: 's', CONSOLE_PUBLIC_URL: 'https://x.example' }, 'console'),
      ).toThrow(/INTERCOM_OAUTH_CLIENT_ID is required when INTERCOM_OAUTH_CLIENT_SECRET is set/);
      expect(() => loadConfig({ INTERCOM_REGION_API_URLS: 'MARS=http://x' }, 'console')).toThrow(
        /INTERCOM_REGION_API_URLS entry "MARS=http:\/\/x" must be <US\|EU\|AU>=<http\(s\) URL>/,
      );
      expect(() => loadConfig({ KLAVIYO_OAUTH_TOKEN_URL: 'ftp://x' }, 'console')).toThrow(/KLAVIYO_OAUTH_TOKEN_URL/);
      // the other apps do not need the public URL
      expect(loadConfig({ ...klaviyo }, 'cli').consoleOAuth.klaviyo?.clientId).toBe('kid-1');
    });
  });
});
