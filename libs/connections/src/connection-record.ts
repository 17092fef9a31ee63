import { METRICS, type MetricKey } from '@iks/domain';
import type { ConnectionRecord, SealedValue } from '@iks/kafka';
import { CONNECTION_ID_PATTERN, DEFAULT_CONNECTION_ID, type Connection } from './connection.types';
import { ANY_WORKSPACE } from './default-connection';
import type { ConnectionSealer, SealedField } from './sealing';

export type { ConnectionRecord } from '@iks/kafka';

/** A record of the topic that is not a usable connection (bad id, unknown metric key): not a sealing problem. */
export class ConnectionRecordError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionRecordError';
  }
}

/** Why an id or workspace cannot be a connection of the topic; null when it can. */
export function connectionIdProblem(id: string): string | null {
  if (!CONNECTION_ID_PATTERN.test(id))
    return `connection id "${id.slice(0, 70)}" must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit`;
  if (id === DEFAULT_CONNECTION_ID)
    return `connection id "${DEFAULT_CONNECTION_ID}" is the environment's connection (it is never stored in the topic); choose another id`;
  return null;
}

const METRIC_KEYS: ReadonlySet<string> = new Set(Object.keys(METRICS));

/** The connection with its secrets sealed, as the topic holds it (ConnectionSealer: the first key of CONNECTION_SECRET_KEYS). */
export function sealConnection(c: Connection, sealer: ConnectionSealer): ConnectionRecord {
  const seal = (field: SealedField, s: { reveal(): string } | null): SealedValue | null =>
    s ? sealer.seal(c.id, field, s.reveal()) : null;
  const o = c.klaviyo.oauth;
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    revision: c.revision,
    updatedAt: c.updatedAt,
    intercom: {
      appId: c.intercom.appId,
      region: c.intercom.region,
      apiBaseUrl: c.intercom.apiBaseUrl,
      auth: c.intercom.auth,
      clientSecret: seal('intercom.client_secret', c.intercom.clientSecret),
      accessToken: seal('intercom.access_token', c.intercom.accessToken),
    },
    klaviyo: {
      accountId: c.klaviyo.accountId,
      apiBaseUrl: c.klaviyo.apiBaseUrl,
      auth: c.klaviyo.auth,
      privateKey: seal('klaviyo.private_key', c.klaviyo.privateKey),
      oauth: o
        ? {
            clientId: o.clientId,
            accessToken: sealer.seal(c.id, 'klaviyo.oauth.access_token', o.accessToken),
            refreshToken: sealer.seal(c.id, 'klaviyo.oauth.refresh_token', o.refreshToken),
            expiresAt: o.expiresAt,
            scopes: [...o.scopes],
          }
        : null,
    },
    settings: {
      metricNames: { ...c.settings.metricNames },
      defaultPhoneRegion: c.settings.defaultPhoneRegion,
      deleteOnArchive: c.settings.deleteOnArchive,
    },
  };
}

/**
 * The connection of a record, its secrets unsealed into Secrets. Throws UnsealError (a key not
 * listed, a value altered or moved) or ConnectionRecordError (not a connection: bad id, the
 * reserved id, an unknown metric key); neither message holds a secret.
 */
export function unsealConnection(r: ConnectionRecord, sealer: ConnectionSealer | null): Connection {
  const idProblem = connectionIdProblem(r.id);
  if (idProblem) throw new ConnectionRecordError(idProblem);
  if (r.intercom.appId === '' || r.intercom.appId === ANY_WORKSPACE)
    throw new ConnectionRecordError(`connection "${r.id}" names no Intercom workspace (app_id "${r.intercom.appId}")`);
  for (const k of Object.keys(r.settings.metricNames))
    if (!METRIC_KEYS.has(k))
      throw new ConnectionRecordError(
        `connection "${r.id}" overrides the name of unknown metric key "${k.slice(0, 60)}"`,
      );
  const sealed = [r.intercom.clientSecret, r.intercom.accessToken, r.klaviyo.privateKey, r.klaviyo.oauth];
  if (!sealer && sealed.some((s) => s !== null))
    throw new ConnectionRecordError(
      `connection "${r.id}" has sealed secrets and CONNECTION_SECRET_KEYS is not set (the key ids it needs: ${sealedKeyIds(r).join(', ')})`,
    );
  const open = (field: SealedField, s: SealedValue | null) => (s ? sealer!.unseal(r.id, field, s) : null);
  const o = r.klaviyo.oauth;
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    revision: r.revision,
    updatedAt: r.updatedAt,
    fromEnvironment: false,
    intercom: {
      appId: r.intercom.appId,
      region: r.intercom.region,
      apiBaseUrl: r.intercom.apiBaseUrl,
      auth: r.intercom.auth,
      clientSecret: open('intercom.client_secret', r.intercom.clientSecret),
      accessToken: open('intercom.access_token', r.intercom.accessToken),
    },
    klaviyo: {
      accountId: r.klaviyo.accountId,
      apiBaseUrl: r.klaviyo.apiBaseUrl,
      auth: r.klaviyo.auth,
      privateKey: open('klaviyo.private_key', r.klaviyo.privateKey),
      oauth: o
        ? {
            clientId: o.clientId,
            accessToken: sealer!.unseal(r.id, 'klaviyo.oauth.access_token', o.accessToken),
            refreshToken: sealer!.unseal(r.id, 'klaviyo.oauth.refresh_token', o.refreshToken),
            expiresAt: o.expiresAt,
            scopes: [...o.scopes],
          }
        : null,
    },
    settings: {
      metricNames: { ...r.settings.metricNames } as Partial<Record<MetricKey, string>>,
      defaultPhoneRegion: r.settings.defaultPhoneRegion,
      deleteOnArchive: r.settings.deleteOnArchive,
    },
  };
}

/** The distinct key ids a record's secrets are sealed under (what `cli connections list` shows, what reseal looks at). */
export function sealedKeyIds(r: ConnectionRecord): string[] {
  const ids = new Set<string>();
  for (const s of [
    r.intercom.clientSecret,
    r.intercom.accessToken,
    r.klaviyo.privateKey,
    r.klaviyo.oauth?.accessToken,
    r.klaviyo.oauth?.refreshToken,
  ])
    if (s) ids.add(s.keyId);
  return [...ids].sort();
}
