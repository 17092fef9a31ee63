import type { KlaviyoOAuthClient, KlaviyoTokens } from './klaviyo-oauth.client';
import { OAuthTokenError } from './oauth.errors';

/**
 * The grant of a connection could not be refreshed for good (revoked, rotated away, app
 * removed): the user must connect again. Its records wait (they are not dead letters).
 */
export class NeedsReauthorizationError extends Error {
  readonly retriable = true;
  readonly needsReauthorization = true;
  constructor(
    readonly connectionId: string,
    override readonly cause: OAuthTokenError,
  ) {
    super(`connection ${connectionId} needs re-authorization: ${cause.message}`);
    this.name = 'NeedsReauthorizationError';
  }
}

export interface KlaviyoTokenSourceOptions {
  readonly connectionId: string;
  /** Refresh this long before the access token expires (default 5 minutes). */
  readonly refreshBeforeMs?: number;
  /** The rotated grant, to be stored (the connection's next revision) before it is used. */
  readonly onRotated: (tokens: KlaviyoTokens) => Promise<void>;
  /**
   * A refresh was refused for good (invalid_grant, ...): a newer grant to use instead, or null.
   * Several replicas share one grant: the refresh token one of them rotated is refused to the
   * others, which adopt the rotated grant (the connections topic carries it) before giving up.
   */
  readonly adopt?: (refused: KlaviyoTokens, error: OAuthTokenError) => Promise<KlaviyoTokens | null>;
  /** A refresh failed for good (no newer grant to adopt). */
  readonly onNeedsReauthorization?: (error: OAuthTokenError) => void;
  readonly now?: () => number;
}

/**
 * The `Authorization` header of one OAuth connection: `Bearer <access token>`, refreshed before
 * it expires and once after a 401, one refresh at a time (concurrent callers share it), the
 * rotated refresh token kept. A refresh refused for good first asks `adopt` for a newer grant
 * (another holder of the grant rotated it: the sink's replicas); without one the source turns
 * into needs-reauthorization until `replace()` gives it the grant of a new authorization.
 */
export class KlaviyoTokenSource {
  #tokens: KlaviyoTokens;
  #refreshing: Promise<KlaviyoTokens> | null = null;
  #failed: OAuthTokenError | null = null;
  private readonly refreshBeforeMs: number;
  private readonly now: () => number;

  constructor(
    tokens: KlaviyoTokens,
    private readonly client: KlaviyoOAuthClient,
    private readonly opts: KlaviyoTokenSourceOptions,
  ) {
    this.#tokens = tokens;
    this.refreshBeforeMs = opts.refreshBeforeMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  get needsReauthorization(): boolean {
    return this.#failed !== null;
  }

  get expiresAt(): number {
    return this.#tokens.expiresAt;
  }

  /** The grant in use (the last one refreshed, adopted or given by `replace`). */
  get tokens(): KlaviyoTokens {
    return this.#tokens;
  }

  async authorization(): Promise<string> {
    this.throwIfFailed();
    if (this.now() >= this.#tokens.expiresAt - this.refreshBeforeMs) {
      try {
        await this.refresh();
      } catch (e) {
        // a transient failure with a token that still works: use it, try again next time
        if (e instanceof NeedsReauthorizationError || this.now() >= this.#tokens.expiresAt) throw e;
      }
    }
    return `Bearer ${this.#tokens.accessToken.reveal()}`;
  }

  /**
   * Klaviyo answered 401 to a request sent with `sent` (an `authorization()` value): refresh once,
   * unless another caller already did. The caller sends its request again with `authorization()`.
   */
  async unauthorized(sent: string): Promise<void> {
    this.throwIfFailed();
    if (sent !== `Bearer ${this.#tokens.accessToken.reveal()}`) return;
    await this.refresh();
  }

  /** A new grant (the user connected again). */
  replace(tokens: KlaviyoTokens): void {
    this.#tokens = tokens;
    this.#failed = null;
  }

  private refresh(): Promise<KlaviyoTokens> {
    this.#refreshing ??= (async () => {
      const used = this.#tokens;
      try {
        const next = await this.client.refresh(used.refreshToken);
        await this.opts.onRotated(next);
        this.#tokens = next;
        return next;
      } catch (e) {
        if (e instanceof OAuthTokenError && e.permanent) {
          // replaced meanwhile (a new authorization, another replica's rotation): use that one
          // (asked of `adopt` when there is one: it knows where the newer grant came from)
          const newer = this.opts.adopt ? await this.opts.adopt(used, e) : this.#tokens !== used ? this.#tokens : null;
          if (newer) {
            this.#tokens = newer;
            this.#failed = null;
            return newer;
          }
          this.#failed = e;
          this.opts.onNeedsReauthorization?.(e);
          throw new NeedsReauthorizationError(this.opts.connectionId, e);
        }
        throw e;
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  private throwIfFailed(): void {
    if (this.#failed) throw new NeedsReauthorizationError(this.opts.connectionId, this.#failed);
  }
}
