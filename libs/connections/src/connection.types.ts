/**
 * A connection pairs one Intercom workspace with one Klaviyo account (docs/CONNECTIONS.md).
 * This is the decoded, in-memory view every app builds from the compacted connections topic
 * (plus the default connection from the environment). Secrets are `Secret`s here and sealed
 * (AES-256-GCM, key id stored beside each value) in Kafka: they never travel or rest in clear.
 */
import type { Secret } from '@iks/config';
import type { MetricKey } from '@iks/domain';

export { CONNECTION_ID_PATTERN, DEFAULT_CONNECTION_ID, connectionOf } from '@iks/domain';

export type IntercomRegion = 'US' | 'EU' | 'AU';

/** Intercom's REST API host per region (developers.intercom.com, "Regional hosting"). */
export const INTERCOM_REGION_API: Readonly<Record<IntercomRegion, string>> = {
  US: 'https://api.intercom.io',
  EU: 'https://api.eu.intercom.io',
  AU: 'https://api.au.intercom.io',
};

/**
 * active: routed and delivered. paused: webhooks are still accepted and stored (nothing is
 * dropped), delivery to Klaviyo waits. needs_reauth: an OAuth refresh failed for good; like
 * paused until the user connects again. removed: routing stops; its records stay replayable.
 */
export type ConnectionStatus = 'active' | 'paused' | 'needs_reauth' | 'removed';

export interface IntercomSide {
  /** The workspace id, the envelope's `app_id` (GET /me `app.id_code`). */
  readonly appId: string;
  readonly region: IntercomRegion;
  /** REST API base URL; INTERCOM_REGION_API[region] unless overridden (the emulator, a proxy). */
  readonly apiBaseUrl: string;
  /** How the access token was obtained. */
  readonly auth: 'token' | 'oauth';
  /** The Intercom app's client secret: it signs the workspace's webhooks (X-Hub-Signature). */
  readonly clientSecret: Secret | null;
  readonly accessToken: Secret | null;
}

export interface KlaviyoOAuthGrant {
  readonly clientId: string;
  readonly accessToken: Secret;
  readonly refreshToken: Secret;
  /** unix milliseconds */
  readonly expiresAt: number;
  readonly scopes: readonly string[];
}

export interface KlaviyoSide {
  /** The account id as GET /api/accounts gives it; null until validated. */
  readonly accountId: string | null;
  readonly apiBaseUrl: string;
  readonly auth: 'private_key' | 'oauth';
  readonly privateKey: Secret | null;
  readonly oauth: KlaviyoOAuthGrant | null;
}

export interface ConnectionSettings {
  /** METRIC_NAME_OVERRIDES of this connection, by the mapping's metric key. */
  readonly metricNames: Readonly<Partial<Record<MetricKey, string>>>;
  readonly defaultPhoneRegion: string | null;
  readonly deleteOnArchive: boolean;
}

export interface Connection {
  readonly id: string;
  /** A label for people (console, logs); never a secret. */
  readonly name: string;
  readonly status: ConnectionStatus;
  /** Increases with every change of the connection (the record's version). */
  readonly revision: number;
  /** unix milliseconds */
  readonly updatedAt: number;
  /** Made from the environment (today's variables), not stored in the connections topic. */
  readonly fromEnvironment: boolean;
  readonly intercom: IntercomSide;
  readonly klaviyo: KlaviyoSide;
  readonly settings: ConnectionSettings;
}

/**
 * What every app reads: the current connections, kept up to date from the connections topic.
 * Implementations: `StaticConnections` (a fixed set, the default connection alone when nothing
 * else is configured) and the Kafka-following one in this lib.
 */
export interface ConnectionDirectory {
  get(id: string): Connection | undefined;
  /** The connection that claims this workspace (not removed), else undefined. */
  byAppId(appId: string): Connection | undefined;
  /** Every connection that is not removed. */
  all(): readonly Connection[];
  /**
   * Distinct Intercom client secrets of every connection that is not removed (one public app
   * serves many workspaces: one secret). A webhook of a workspace no connection claims is
   * "signed" when one of these verifies it.
   */
  clientSecrets(): readonly Secret[];
  /** Called after every change (add, update, removal) with the new and the previous value. */
  onChange(listener: (current: Connection, previous: Connection | undefined) => void): () => void;
}
