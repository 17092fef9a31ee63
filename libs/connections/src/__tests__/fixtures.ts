import { randomBytes } from 'node:crypto';
import { Secret, type ConnectionSecretKey } from '@iks/config';
import type { Connection } from '../connection.types';

/** A fresh key of CONNECTION_SECRET_KEYS. */
export function key(kid: string): ConnectionSecretKey {
  return { kid, key: new Secret(randomBytes(32).toString('base64')) };
}

/** A connection of the topic with every secret set (distinct, recognisable values to scan for). */
export function connection(id: string, over: Partial<Connection> = {}, tag = id): Connection {
  return {
    id,
    name: `Brand ${id}`,
    status: 'active',
    revision: 1,
    updatedAt: 1_767_225_600_000,
    fromEnvironment: false,
    intercom: {
      appId: `app-${id}`,
      region: 'EU',
      apiBaseUrl: 'https://api.eu.intercom.io',
      auth: 'token',
      clientSecret: new Secret(`client-secret-${tag}-0123456789`),
      accessToken: new Secret(`access-token-${tag}-0123456789`),
    },
    klaviyo: {
      accountId: `Acct${id}`,
      apiBaseUrl: 'https://a.klaviyo.com',
      auth: 'private_key',
      privateKey: new Secret(`pk_private-key-${tag}-0123456789`),
      oauth: null,
    },
    settings: { metricNames: { ticketResolved: 'Resolved!' }, defaultPhoneRegion: 'GB', deleteOnArchive: true },
    ...over,
  };
}
