import type { Provider } from '@nestjs/common';
import { CONFIG, type Config, type Secret } from '@iks/config';
import { IntercomClient, type IntercomClientOptions } from './intercom.client';

/** The injection token of the process's IntercomClientFactory (intercomClientFactoryProvider). */
export const INTERCOM_CLIENT_FACTORY = Symbol('INTERCOM_CLIENT_FACTORY');

/**
 * What an Intercom client is made for: a connection's Intercom side, its API host (region or
 * override) and its access token. A `Connection` (libs/connections) is one; the environment's
 * default connection is one (defaultConnectionFromConfig).
 */
export interface IntercomEndpoint {
  readonly id?: string;
  readonly intercom: { readonly accessToken: Secret | null; readonly apiBaseUrl: string };
}

/** Client settings other than the endpoint (timeouts, retries, a clock in tests). */
export type IntercomClientSettings = Omit<IntercomClientOptions, 'accessToken' | 'baseUrl'>;

/** `(connection) => IntercomClient`: the one way an app or a lib gets an Intercom client (issue #21). */
export type IntercomClientFactory = (endpoint: IntercomEndpoint, settings?: IntercomClientSettings) => IntercomClient;

/** The endpoint has no access token: nothing can be read from its workspace's REST API. */
export class NoIntercomAccessTokenError extends Error {
  constructor(readonly connectionId: string | undefined) {
    super(
      `connection "${connectionId ?? '?'}" has no Intercom access token (backfill, reconcile and lookups need one)`,
    );
    this.name = 'NoIntercomAccessTokenError';
  }
}

/**
 * The factory: an IntercomClient for the endpoint's host with its token, at Intercom-Version
 * `defaults.version` unless the settings say otherwise. Throws NoIntercomAccessTokenError
 * without a token. This file is the only place that constructs IntercomClient
 * (test/architecture/construction.spec.ts).
 */
export function intercomClientFactory(defaults: { readonly version?: string } = {}): IntercomClientFactory {
  return (endpoint, settings = {}) => {
    const token = endpoint.intercom.accessToken;
    if (!token) throw new NoIntercomAccessTokenError(endpoint.id);
    return new IntercomClient({
      version: defaults.version,
      ...settings,
      accessToken: token,
      baseUrl: endpoint.intercom.apiBaseUrl,
    });
  };
}

/** INTERCOM_CLIENT_FACTORY for a Nest module: the factory at the configured INTERCOM_VERSION. */
export const intercomClientFactoryProvider: Provider = {
  provide: INTERCOM_CLIENT_FACTORY,
  inject: [CONFIG],
  useFactory: (c: Config): IntercomClientFactory => intercomClientFactory({ version: c.intercom.version }),
};
