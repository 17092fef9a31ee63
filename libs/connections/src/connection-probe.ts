import type { Secret } from '@iks/config';
import type { IntercomMe } from '@iks/intercom';

/** A live check that failed: the vendor refused the credentials, or could not be reached. Never holds a secret. */
export class ProbeError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** What GET /me says about an Intercom access token's workspace. */
export interface IntercomWorkspace {
  /** `app.id_code`: the webhooks' app_id. */
  readonly appId: string;
  readonly name: string;
  /** `app.region` as Intercom answers it (informative). */
  readonly region: string | null;
  /** The token's admin (email), for the operator's confirmation. */
  readonly admin: string;
}

/** What GET /api/accounts says about a Klaviyo private key's account. */
export interface KlaviyoAccount {
  readonly accountId: string;
  readonly organizationName: string | null;
}

/** The requests a live check makes; the clients are built in connections.module.ts. */
export interface ProbeClients {
  intercomMe(accessToken: Secret, baseUrl: string): Promise<IntercomMe>;
  /** GET /api/accounts with the private key: the answer's body. */
  klaviyoAccounts(privateKey: Secret, baseUrl: string): Promise<unknown>;
}

/** Errors of the vendors' clients, as far as the probe reads them. */
interface VendorError {
  readonly status?: number | null;
  readonly code?: string;
  readonly message?: string;
}

function describe(vendor: string, what: string, e: unknown): string {
  const err = (e ?? {}) as VendorError;
  const status = err.status ?? 0;
  if (status === 401 || status === 403)
    return `${vendor} refused the ${what} (${status} ${err.code ?? ''}): check it is current and has the scopes the pipeline needs`.replace(
      ' )',
      ')',
    );
  return `${vendor} did not confirm the ${what}: ${err.message ?? String(e)}`;
}

/**
 * Live validation of a new connection's credentials (`cli connections add`, the console):
 * Intercom `GET /me` (components/schemas/admin_with_app: `app.id_code` is the workspace id) and
 * Klaviyo `GET /api/accounts` (the key's one account: its id).
 */
export class ConnectionProbe {
  constructor(private readonly clients: ProbeClients) {}

  async intercom(accessToken: Secret, baseUrl: string): Promise<IntercomWorkspace> {
    let me: IntercomMe;
    try {
      me = await this.clients.intercomMe(accessToken, baseUrl);
    } catch (e) {
      throw new ProbeError(`${describe('Intercom', 'access token', e)} (GET ${baseUrl}/me)`);
    }
    const appId = me?.app?.id_code;
    if (typeof appId !== 'string' || appId === '')
      throw new ProbeError(`Intercom GET ${baseUrl}/me answered no workspace (app.id_code) for this access token`);
    return {
      appId,
      name: typeof me.app?.name === 'string' ? me.app.name : '',
      region: typeof me.app?.region === 'string' ? me.app.region : null,
      admin: typeof me.email === 'string' ? me.email : '',
    };
  }

  async klaviyo(privateKey: Secret, baseUrl: string): Promise<KlaviyoAccount> {
    let body: unknown;
    try {
      body = await this.clients.klaviyoAccounts(privateKey, baseUrl);
    } catch (e) {
      throw new ProbeError(`${describe('Klaviyo', 'private key', e)} (GET ${baseUrl}/api/accounts)`);
    }
    const data = (body as { data?: unknown } | undefined)?.data;
    const first = Array.isArray(data) ? (data[0] as { id?: unknown; attributes?: unknown } | undefined) : undefined;
    if (!first || typeof first.id !== 'string' || first.id === '')
      throw new ProbeError(`Klaviyo GET ${baseUrl}/api/accounts answered no account for this private key`);
    const attributes = first.attributes as { contact_information?: { organization_name?: unknown } } | undefined;
    const org = attributes?.contact_information?.organization_name;
    return { accountId: first.id, organizationName: typeof org === 'string' ? org : null };
  }
}
