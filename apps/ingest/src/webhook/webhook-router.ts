import type { Secret } from '@iks/config';
import { claimsAnyWorkspace, webhookSecretsOf, type Connection, type ConnectionDirectory } from '@iks/connections';
import { signatureOf, signedWithAny } from './signature';

/** Where a webhook goes (docs/CONNECTIONS.md, "Routing by workspace"). */
/** Why a webhook is refused (401). */
export type RefusedRoute = { readonly kind: 'refused'; readonly reason: 'missing_signature' | 'bad_signature' };

export type WebhookRoute =
  /** Signed with the secret of the connection that claims its workspace: written to the raw topic with it. */
  | { readonly kind: 'claimed'; readonly connection: Connection }
  /** Signed by an Intercom app the deployment knows, of a workspace no connection claims: kept apart, answered 200. */
  | { readonly kind: 'unclaimed' }
  /** 401 as before connections: no header, or no secret that should verify it does. */
  | RefusedRoute;

const MISSING: RefusedRoute = { kind: 'refused', reason: 'missing_signature' };
const BAD: RefusedRoute = { kind: 'refused', reason: 'bad_signature' };
const UNCLAIMED: WebhookRoute = { kind: 'unclaimed' };

/**
 * Picks a webhook's connection by its workspace (`app_id`) and checks X-Hub-Signature with that
 * connection's client secret (the default connection: every INTERCOM_CLIENT_SECRETS value).
 * A workspace no connection claims: the default connection takes it when it claims any
 * workspace (INTERCOM_APP_ID unset) and the environment's secret verifies it; else it is
 * "unclaimed" when one of the distinct client secrets the deployment knows verifies it
 * (one public Intercom app serves many workspaces with one secret), else refused.
 * The directory is read on every call: a connection added or removed counts from the next webhook.
 */
export class WebhookRouter {
  private readonly environmentSecrets: readonly Secret[];

  constructor(
    private readonly connections: ConnectionDirectory,
    environmentSecrets: readonly Secret[],
  ) {
    this.environmentSecrets = environmentSecrets;
  }

  /**
   * Refuses a request whose header cannot be a signature, before its body is parsed (an unsigned
   * request costs no JSON parse); null when it is well formed (route() checks it).
   */
  refusedHeader(header: string | readonly string[] | undefined): RefusedRoute | null {
    if (!header) return MISSING;
    return signatureOf(header) === null ? BAD : null;
  }

  /** `appId`: the body's `app_id` when it is a non-empty string (a ping may have none). */
  route(rawBody: Buffer, header: string | readonly string[] | undefined, appId: string | undefined): WebhookRoute {
    if (!header) return MISSING;
    const given = signatureOf(header);
    if (given === null) return BAD;
    const claimer = appId ? this.connections.byAppId(appId) : undefined;
    if (claimer && !claimsAnyWorkspace(claimer)) {
      const secrets = webhookSecretsOf(claimer, this.environmentSecrets);
      return this.verifies(rawBody, given, secrets) ? { kind: 'claimed', connection: claimer } : BAD;
    }
    // no connection claims this workspace by its id: the one claiming any workspace takes it if its secret signed it
    const any = claimer ?? this.connections.all().find(claimsAnyWorkspace);
    if (any && this.verifies(rawBody, given, webhookSecretsOf(any, this.environmentSecrets)))
      return { kind: 'claimed', connection: any };
    return this.verifies(rawBody, given, this.knownSecrets()) ? UNCLAIMED : BAD;
  }

  /** Every distinct client secret: the connections' (clientSecrets()) and the environment's. */
  private knownSecrets(): Secret[] {
    const seen = new Map<string, Secret>();
    for (const s of this.connections.clientSecrets()) seen.set(s.reveal(), s);
    for (const s of this.environmentSecrets) seen.set(s.reveal(), s);
    return [...seen.values()];
  }

  private verifies(rawBody: Buffer, given: Buffer, secrets: readonly Secret[]): boolean {
    return (
      secrets.length > 0 &&
      signedWithAny(
        rawBody,
        given,
        secrets.map((s) => s.reveal()),
      )
    );
  }
}
