import { Secret } from '@iks/config';
import type { Connection, ConnectionSettings } from '@iks/connections';

/** A connection added through the connections topic (not the environment's), for tests. */
export function testConnection(
  id: string,
  appId: string,
  o: {
    readonly clientSecret?: string | null;
    readonly accessToken?: string | null;
    readonly apiBaseUrl?: string;
    readonly status?: Connection['status'];
    readonly settings?: Partial<ConnectionSettings>;
    readonly revision?: number;
  } = {},
): Connection {
  const clientSecret = o.clientSecret === undefined ? `${id}-client-secret` : o.clientSecret;
  return {
    id,
    name: `test ${id}`,
    status: o.status ?? 'active',
    revision: o.revision ?? 1,
    updatedAt: 0,
    fromEnvironment: false,
    intercom: {
      appId,
      region: 'US',
      apiBaseUrl: o.apiBaseUrl ?? 'https://api.intercom.io',
      auth: 'token',
      clientSecret: clientSecret === null ? null : new Secret(clientSecret),
      accessToken: o.accessToken ? new Secret(o.accessToken) : null,
    },
    klaviyo: {
      accountId: null,
      apiBaseUrl: 'https://a.klaviyo.com',
      auth: 'private_key',
      privateKey: null,
      oauth: null,
    },
    settings: { metricNames: {}, defaultPhoneRegion: null, deleteOnArchive: false, ...o.settings },
  };
}
