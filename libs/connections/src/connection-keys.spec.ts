import { loadConfig } from '@iks/config';
import { testConnection } from '../../../test/support/connections';
import { connectionKey, withConnectionId } from './connection-keys';
import { defaultConnectionFromConfig, webhookSecretsOf } from './default-connection';

describe('connection keys and tags (docs/CONNECTIONS.md, "Keys")', () => {
  it("the default connection keeps today's key; another prefixes it with its id", () => {
    expect(connectionKey(undefined, 'conversation:1')).toBe('conversation:1');
    expect(connectionKey('default', 'conversation:1')).toBe('conversation:1');
    expect(connectionKey('acme-eu', 'conversation:1')).toBe('acme-eu/conversation:1');
  });

  it('tags a record with its connection, leaving the default absent (as the decoders give it back)', () => {
    const r = { id: 'x' } as { id: string; connection_id?: string };
    expect(withConnectionId(r, 'default')).toBe(r);
    expect(withConnectionId(r, 'acme')).toEqual({ id: 'x', connection_id: 'acme' });
    expect(withConnectionId({ id: 'x', connection_id: 'acme' }, 'default')).toEqual({ id: 'x' });
  });

  it("a connection's webhooks are verified with its own secret; the environment's with every INTERCOM_CLIENT_SECRETS value", () => {
    const config = loadConfig({ INTERCOM_CLIENT_SECRET: 'old,new', LOG_LEVEL: 'warn' }, 'ingest');
    const env = config.ingest.clientSecrets;
    expect(webhookSecretsOf(defaultConnectionFromConfig(config), env).map((s) => s.reveal())).toEqual(['old', 'new']);
    expect(
      webhookSecretsOf(testConnection('acme', 'ws', { clientSecret: 'mine' }), env).map((s) => s.reveal()),
    ).toEqual(['mine']);
    expect(webhookSecretsOf(testConnection('acme', 'ws', { clientSecret: null }), env)).toEqual([]);
  });
});
