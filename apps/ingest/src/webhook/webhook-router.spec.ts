import { loadConfig } from '@iks/config';
import { defaultConnectionFromConfig, StaticConnections, type Connection } from '@iks/connections';
import { testConnection } from '../../../../test/support/connections';
import { sign } from './signature';
import { WebhookRouter, type WebhookRoute } from './webhook-router';

const ENV_SECRET = 'env-secret';
const body = (appId: string) =>
  Buffer.from(`{"type":"notification_event","app_id":"${appId}","id":"notif_1","topic":"conversation.user.created"}`);

/** The default connection from the environment (INTERCOM_APP_ID as given), then the others. */
function router(appIdOfDefault: string | null, others: Connection[], envSecrets = [ENV_SECRET]): WebhookRouter {
  const env: Record<string, string> = { INTERCOM_CLIENT_SECRET: envSecrets.join(','), LOG_LEVEL: 'warn' };
  if (appIdOfDefault) env.INTERCOM_APP_ID = appIdOfDefault;
  const config = loadConfig(env, 'ingest');
  return new WebhookRouter(
    new StaticConnections([defaultConnectionFromConfig(config), ...others]),
    config.ingest.clientSecrets,
  );
}

const routeOf = (r: WebhookRouter, appId: string, secret: string | null, header?: string): string => {
  const raw = body(appId);
  const route: WebhookRoute = r.route(raw, header ?? (secret === null ? undefined : sign(raw, secret)), appId);
  return route.kind === 'claimed'
    ? `claimed:${route.connection.id}`
    : route.kind === 'refused'
      ? route.reason
      : 'unclaimed';
};

describe('WebhookRouter: a webhook picks its connection by app_id and must be signed with its secret', () => {
  it('a claimed workspace signed with its connection secret goes to that connection; another secret is refused', () => {
    const r = router('dflt', [testConnection('acme', 'ws-acme', { clientSecret: 'acme-secret' })]);
    expect(routeOf(r, 'ws-acme', 'acme-secret')).toBe('claimed:acme');
    expect(routeOf(r, 'ws-acme', ENV_SECRET)).toBe('bad_signature'); // a secret the deployment knows, not this workspace's
    expect(routeOf(r, 'ws-acme', 'nobody-knows-this')).toBe('bad_signature');
    expect(routeOf(r, 'dflt', ENV_SECRET)).toBe('claimed:default');
    expect(routeOf(r, 'dflt', 'acme-secret')).toBe('bad_signature');
  });

  it('a workspace no connection claims, signed by a known app: unclaimed; signed by no known secret: refused', () => {
    const r = router('dflt', [testConnection('acme', 'ws-acme', { clientSecret: 'acme-secret' })]);
    expect(routeOf(r, 'ws-new', 'acme-secret')).toBe('unclaimed');
    expect(routeOf(r, 'ws-new', ENV_SECRET)).toBe('unclaimed'); // INTERCOM_APP_ID is set: the default claims dflt only
    expect(routeOf(r, 'ws-new', 'nobody-knows-this')).toBe('bad_signature');
  });

  it('unsigned or malformed signature headers are refused, each with its reason', () => {
    const r = router(null, []);
    expect(routeOf(r, 'ws', null)).toBe('missing_signature');
    expect(routeOf(r, 'ws', null, '')).toBe('missing_signature');
    expect(routeOf(r, 'ws', null, 'sha1=zz')).toBe('bad_signature');
    const raw = body('ws');
    expect(r.route(raw, [sign(raw, ENV_SECRET)], 'ws')).toEqual({ kind: 'refused', reason: 'bad_signature' });
  });

  it('one public app for two workspaces: one secret, each workspace to its own connection', () => {
    const shared = 'public-app-secret';
    const r = router('dflt', [
      testConnection('brand-a', 'ws-a', { clientSecret: shared }),
      testConnection('brand-b', 'ws-b', { clientSecret: shared }),
    ]);
    expect(routeOf(r, 'ws-a', shared)).toBe('claimed:brand-a');
    expect(routeOf(r, 'ws-b', shared)).toBe('claimed:brand-b');
    expect(routeOf(r, 'ws-c', shared)).toBe('unclaimed'); // a third workspace installed the app, no connection yet
  });

  it('one private app per workspace: each secret verifies its own workspace only', () => {
    const r = router('dflt', [
      testConnection('one', 'ws-1', { clientSecret: 'private-1' }),
      testConnection('two', 'ws-2', { clientSecret: 'private-2' }),
    ]);
    expect(routeOf(r, 'ws-1', 'private-1')).toBe('claimed:one');
    expect(routeOf(r, 'ws-2', 'private-2')).toBe('claimed:two');
    expect(routeOf(r, 'ws-1', 'private-2')).toBe('bad_signature');
    expect(routeOf(r, 'ws-2', 'private-1')).toBe('bad_signature');
  });

  it('without INTERCOM_APP_ID the default connection claims any workspace its secret signs, as before connections', () => {
    const r = router(null, [testConnection('acme', 'ws-acme', { clientSecret: 'acme-secret' })], ['old', ENV_SECRET]);
    expect(routeOf(r, 'anything', ENV_SECRET)).toBe('claimed:default');
    expect(routeOf(r, 'anything', 'old')).toBe('claimed:default'); // every INTERCOM_CLIENT_SECRETS value (rotation)
    expect(routeOf(r, 'anything', 'acme-secret')).toBe('unclaimed');
    expect(routeOf(r, 'ws-acme', ENV_SECRET)).toBe('bad_signature'); // acme claims it: only its secret
    expect(routeOf(r, 'ws-acme', 'acme-secret')).toBe('claimed:acme');
    // a ping without app_id: signed by the environment's secret
    const raw = Buffer.from('{"type":"notification_event","topic":"ping"}');
    expect(r.route(raw, sign(raw, ENV_SECRET), undefined)).toMatchObject({ kind: 'claimed' });
  });

  it('a paused connection still claims its workspace; a removed one no longer does (nor does its secret sign)', () => {
    const r = router('dflt', [
      testConnection('paused', 'ws-p', { clientSecret: 'p-secret', status: 'paused' }),
      testConnection('gone', 'ws-g', { clientSecret: 'g-secret', status: 'removed' }),
    ]);
    expect(routeOf(r, 'ws-p', 'p-secret')).toBe('claimed:paused');
    expect(routeOf(r, 'ws-g', 'g-secret')).toBe('bad_signature');
    expect(routeOf(r, 'ws-g', 'p-secret')).toBe('unclaimed');
  });

  it('reads the directory on every webhook: a connection added later claims from its next webhook', () => {
    const config = loadConfig(
      { INTERCOM_CLIENT_SECRET: ENV_SECRET, INTERCOM_APP_ID: 'dflt', LOG_LEVEL: 'warn' },
      'ingest',
    );
    const connections = new StaticConnections([defaultConnectionFromConfig(config)]);
    const r = new WebhookRouter(connections, config.ingest.clientSecrets);
    connections.put(testConnection('first', 'ws-1', { clientSecret: 'shared' }));
    expect(routeOf(r, 'ws-2', 'shared')).toBe('unclaimed');
    connections.put(testConnection('second', 'ws-2', { clientSecret: 'shared' }));
    expect(routeOf(r, 'ws-2', 'shared')).toBe('claimed:second');
  });
});
