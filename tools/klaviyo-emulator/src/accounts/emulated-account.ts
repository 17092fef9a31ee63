import { randomBytes } from 'node:crypto';
import { ApiRateLimits } from '../http/rate-limits';
import { BulkImportJobs } from '../jobs/bulk-import-jobs';
import type { KlaviyoOperation, RateLimit } from '../klaviyo-emulator.constants';
import { KlaviyoEmulatorFaults } from '../klaviyo-emulator.faults';
import { KlaviyoEmulatorStore } from '../klaviyo-emulator.store';

/** What `GET /api/accounts` answers about an account (AccountResponseObjectResource in contracts/klaviyo/get_accounts.json). */
export interface AccountAttributes {
  readonly test_account: boolean;
  readonly contact_information: {
    readonly default_sender_name: string;
    readonly default_sender_email: string;
    readonly website_url: string | null;
    readonly organization_name: string;
    readonly street_address: {
      readonly address1: string | null;
      readonly address2: string | null;
      readonly city: string | null;
      readonly region: string | null;
      readonly country: string | null;
      readonly zip: string | null;
    };
  };
  readonly industry: string | null;
  readonly timezone: string;
  readonly preferred_currency: string;
  readonly locale: string;
}

export interface AccountOptions {
  /** The account id (also its public API key / site id): 6 letters or digits. Default: random. */
  readonly id?: string;
  /** The organization name shown on the authorize page and in `contact_information`. */
  readonly name?: string;
  /** Its private API keys. Extra accounts need at least one `pk_…`; default: one is generated. */
  readonly privateKeys?: readonly string[];
  /** Per-operation overrides of the documented burst/steady limits, for this account. */
  readonly limitOverrides?: Partial<Record<KlaviyoOperation, Partial<RateLimit>>>;
  readonly timezone?: string;
  readonly preferredCurrency?: string;
  readonly locale?: string;
}

/** Klaviyo's account id is the 6-character public API key ("site id"). */
export const ACCOUNT_ID = /^[A-Za-z0-9]{6}$/;
/** Private keys as Klaviyo shows them: `pk_` and letters/digits (34 hex characters in practice). */
export const PRIVATE_KEY = /^pk_[A-Za-z0-9_]{8,}$/;

/** 6 letters or digits (an account id; also used for integration ids). */
export function newAccountId(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = randomBytes(6);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

export function newPrivateKey(): string {
  return `pk_${randomBytes(17).toString('hex')}`;
}

/**
 * One emulated Klaviyo account: its id and settings, its private keys, its own store (profiles, events,
 * metrics, deletion jobs), bulk-import jobs and rate-limit windows. Klaviyo's "Rate limits, status codes,
 * and errors": private key integrations "share the same rate limit quota per account", while "OAuth apps
 * receive their own rate limit quota per installed app instance (i.e., per account per app)".
 */
export class EmulatedAccount {
  readonly store: KlaviyoEmulatorStore;
  readonly jobs = new BulkImportJobs();
  readonly limits: ApiRateLimits;
  readonly attributes: AccountAttributes;
  /**
   * Faults of this account only (`POST /__emulator/accounts/{id}/faults`): taken once the request
   * is known to be this account's (after authentication), after the emulator-wide ones.
   */
  readonly faults: KlaviyoEmulatorFaults;
  private readonly keys: Set<string>;

  constructor(
    readonly id: string,
    readonly name: string,
    privateKeys: readonly string[] | undefined,
    options: {
      readonly now: () => number;
      readonly limits: boolean;
      readonly limitOverrides?: Partial<Record<KlaviyoOperation, Partial<RateLimit>>>;
      readonly retainEvents?: boolean;
      readonly timezone?: string;
      readonly preferredCurrency?: string;
      readonly locale?: string;
    },
    /**
     * The default account as it always was: any key (or the listed ones) and one quota per key. Every
     * other account has one private-key quota per account, as Klaviyo documents.
     */
    readonly legacyDefault = false,
  ) {
    this.keys = new Set(privateKeys ?? []);
    this.store = new KlaviyoEmulatorStore({ retainEvents: options.retainEvents, now: options.now });
    this.limits = new ApiRateLimits(options.now, options.limits, options.limitOverrides);
    this.faults = new KlaviyoEmulatorFaults(options.now);
    const slug =
      name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '') || 'account';
    this.attributes = {
      test_account: false,
      contact_information: {
        default_sender_name: name,
        default_sender_email: `hello@${slug}.example.com`,
        website_url: `https://${slug}.example.com`,
        organization_name: name,
        street_address: {
          address1: '125 Summer Street',
          address2: null,
          city: 'Boston',
          region: 'MA',
          country: 'US',
          zip: '02110',
        },
      },
      industry: null,
      timezone: options.timezone ?? 'UTC',
      preferred_currency: options.preferredCurrency ?? 'USD',
      locale: options.locale ?? 'en-US',
    };
  }

  /** Whether this account lists its keys (the legacy default without a list accepts any key). */
  get listsKeys(): boolean {
    return this.keys.size > 0;
  }

  hasKey(key: string): boolean {
    return this.keys.has(key);
  }

  privateKeys(): readonly string[] {
    return [...this.keys];
  }

  addKey(key: string): void {
    this.keys.add(key);
  }

  /** The rate-limit window a request uses: per key (legacy default), per account, or per OAuth app in this account. */
  quotaKey(
    principal: { readonly kind: 'key'; readonly key: string } | { readonly kind: 'oauth'; readonly clientId: string },
  ): string {
    if (principal.kind === 'oauth') return `oauth\u0000${principal.clientId}`;
    return this.legacyDefault ? principal.key : 'private-keys';
  }

  reset(): void {
    this.store.reset();
    this.limits.reset();
    this.jobs.clear();
    this.faults.clear();
  }

  /** The account as GET /api/accounts returns it. */
  resource(baseUrl: string): Record<string, unknown> {
    return {
      type: 'account',
      id: this.id,
      attributes: { ...this.attributes, public_api_key: this.id },
      links: { self: `${baseUrl}/api/accounts/${this.id}/` },
    };
  }
}
