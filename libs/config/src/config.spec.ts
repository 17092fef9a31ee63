import { inspect } from 'node:util';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives local defaults', () => {
    const c = loadConfig({}, 'transformer');
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.kafka.schemaRegistryUrl).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(c.ingest.port).toBe(3000);
    expect(c.klaviyo.revision).toBe('2026-07-15');
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ INGEST_PORT: 'abc', KAFKA_BROKERS: 'nohost', SCHEMA_REGISTRY_URL: 'ftp://x', KAFKA_SSL: 'maybe' }, 'ingest');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['INGEST_PORT', 'KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'KAFKA_SSL', 'INTERCOM_CLIENT_SECRET']) {
      expect(msg).toContain(name);
    }
  });

  it('never prints secrets', () => {
    const c = loadConfig({ INTERCOM_CLIENT_SECRET: 's3cr3t-a,s3cr3t-b', KLAVIYO_API_KEY: 'pk_live_123' }, 'sink');
    const printed = JSON.stringify(c) + inspect(c, { depth: 10 }) + String(c.klaviyo.apiKey);
    expect(printed).not.toMatch(/s3cr3t|pk_live_123/);
    expect(c.ingest.clientSecrets.map((s) => s.reveal())).toEqual(['s3cr3t-a', 's3cr3t-b']);
  });

  it('validates metric renames', () => {
    expect(loadConfig({ METRIC_NAME_OVERRIDES: '{"Ticket Resolved":"Intercom Ticket Resolved"}' }).transformer.metricNames).toEqual({
      'Ticket Resolved': 'Intercom Ticket Resolved',
    });
    expect(() => loadConfig({ METRIC_NAME_OVERRIDES: '{"Nope":"x"}' })).toThrow(/METRIC_NAME_OVERRIDES/);
  });
});
