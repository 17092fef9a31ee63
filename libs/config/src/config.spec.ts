import { inspect } from 'node:util';
import { METRICS, metricName } from '@iks/mapping';
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

  it('validates metric renames, keyed by the display names the README documents', () => {
    // The variable names metrics as MAPPING.md does; the config hands the mapping its keys.
    expect(loadConfig({ METRIC_NAME_OVERRIDES: '{"Ticket Resolved":"Intercom Ticket Resolved"}' }).transformer.metricNames).toEqual({
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
    const { metricNames } = loadConfig({ METRIC_NAME_OVERRIDES: '{"Ticket Resolved":"Support Ticket Closed","Conversation Rated":"CSAT"}' }).transformer;
    expect(metricName('ticketResolved', metricNames)).toBe('Support Ticket Closed');
    expect(metricName('conversationRated', metricNames)).toBe('CSAT');
    expect(metricName('ticketCreated', metricNames)).toBe(METRICS.ticketCreated);
  });
});
