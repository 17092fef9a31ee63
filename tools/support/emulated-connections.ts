import { randomBytes } from 'node:crypto';
import { Secret, type Config } from '@iks/config';
import { ConnectionStore, ConnectionsModule, type ConnectionInput } from '@iks/connections';
import { createContext } from '@iks/ops';

/**
 * One connection of a run against the emulators: an Intercom workspace (its `app_id`, access
 * token, client secret) and a Klaviyo account of the emulator (its id, private key).
 */
export interface EmulatedTenant {
  readonly connection: string;
  readonly appId: string;
  readonly account: string;
  readonly privateKey: string;
  readonly accessToken: string;
  readonly clientSecret: string;
  /** Added to the workspace's ids (no two workspaces share one, as in Intercom). */
  readonly idBase: number;
}

/** `n` tenants named `<tag>0`…, each with its own keys; `clientSecret` signs every workspace's webhooks. */
export function emulatedTenants(n: number, tag: string, clientSecret: string): EmulatedTenant[] {
  return Array.from({ length: n }, (_, i) => ({
    connection: `${tag}${i}`,
    appId: `ws${tag}${i}`,
    // 6 letters or digits, as Klaviyo's account ids
    account: `A${tag.slice(0, 2)}${String(i).padStart(3, '0')}`.slice(0, 6).padEnd(6, 'x'),
    privateKey: `pk_${tag}${i}_${randomBytes(10).toString('hex')}`,
    accessToken: `tok_${tag}${i}_${randomBytes(10).toString('hex')}`,
    clientSecret,
    idBase: (i + 1) * 100_000,
  }));
}

/** A random `CONNECTION_SECRET_KEYS` value (one key). */
export function connectionSecretKeys(): string {
  return `run1:${randomBytes(32).toString('base64')}`;
}

/**
 * Writes one connection per tenant to `pipeline.connections.v1` (ConnectionStore, sealed with
 * the config's CONNECTION_SECRET_KEYS) and returns once every record was read back.
 */
export async function writeConnections(
  cliConfig: Config,
  tenants: readonly EmulatedTenant[],
  urls: { intercom: string; klaviyo: string },
): Promise<void> {
  const ctx = await createContext(cliConfig, 'cli', ConnectionsModule);
  try {
    const store = ctx.get(ConnectionStore);
    for (const t of tenants) await store.put(connectionInput(t, urls));
  } finally {
    await ctx.close();
  }
}

function connectionInput(t: EmulatedTenant, urls: { intercom: string; klaviyo: string }): ConnectionInput {
  return {
    id: t.connection,
    name: `Brand ${t.connection}`,
    intercom: {
      appId: t.appId,
      region: 'US',
      apiBaseUrl: urls.intercom,
      auth: 'token',
      clientSecret: new Secret(t.clientSecret),
      accessToken: new Secret(t.accessToken),
    },
    klaviyo: {
      accountId: t.account,
      apiBaseUrl: urls.klaviyo,
      auth: 'private_key',
      privateKey: new Secret(t.privateKey),
      oauth: null,
    },
    settings: { metricNames: {}, defaultPhoneRegion: 'US', deleteOnArchive: false },
  };
}
