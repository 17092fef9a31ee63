import type { Config, Secret } from '@iks/config';
import { DEFAULT_CONNECTION_ID } from '@iks/domain';
import { INTERCOM_REGION_API, type Connection, type IntercomRegion } from './connection.types';

/** The workspace id the default connection claims when INTERCOM_APP_ID is unset: every workspace no other connection claims. */
export const ANY_WORKSPACE = '*';

/**
 * The default connection, made from today's environment variables (docs/CONNECTIONS.md): never
 * written to the connections topic. Its `intercom.appId` is INTERCOM_APP_ID, or ANY_WORKSPACE.
 * The first of INTERCOM_CLIENT_SECRET(S) is its client secret; ingest checks all of them.
 */
export function defaultConnectionFromConfig(config: Config): Connection {
  const apiBaseUrl = config.intercom.baseUrl;
  const region: IntercomRegion =
    (Object.entries(INTERCOM_REGION_API).find(([, url]) => url === apiBaseUrl)?.[0] as IntercomRegion | undefined) ??
    'US';
  return {
    id: DEFAULT_CONNECTION_ID,
    name: 'default (environment)',
    status: 'active',
    revision: 0,
    updatedAt: 0,
    fromEnvironment: true,
    intercom: {
      appId: config.reconciler.appId ?? ANY_WORKSPACE,
      region,
      apiBaseUrl,
      auth: 'token',
      clientSecret: config.ingest.clientSecrets[0] ?? null,
      accessToken: config.intercom.accessToken,
    },
    klaviyo: {
      accountId: null,
      apiBaseUrl: config.klaviyo.baseUrl,
      auth: 'private_key',
      privateKey: config.klaviyo.apiKey,
      oauth: null,
    },
    settings: {
      metricNames: config.transformer.metricNames,
      defaultPhoneRegion: config.transformer.defaultPhoneRegion,
      deleteOnArchive: config.transformer.deleteOnArchive,
    },
  };
}

/** Whether `c` claims every workspace no other connection claims (the default connection without INTERCOM_APP_ID). */
export function claimsAnyWorkspace(c: Connection): boolean {
  return c.intercom.appId === ANY_WORKSPACE;
}

/**
 * The client secrets that verify a connection's webhooks: the environment's (every
 * INTERCOM_CLIENT_SECRETS value, rotation) for the connection made from the environment, else
 * its own client secret.
 */
export function webhookSecretsOf(c: Connection, environmentSecrets: readonly Secret[]): readonly Secret[] {
  if (c.fromEnvironment) return environmentSecrets;
  return c.intercom.clientSecret ? [c.intercom.clientSecret] : [];
}
