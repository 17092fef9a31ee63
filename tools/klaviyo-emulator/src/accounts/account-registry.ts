import type { KlaviyoOperation, RateLimit } from '../klaviyo-emulator.constants';
import {
  ACCOUNT_ID,
  EmulatedAccount,
  newAccountId,
  newPrivateKey,
  PRIVATE_KEY,
  type AccountOptions,
} from './emulated-account';

export interface AccountDefaults {
  readonly now: () => number;
  readonly limits: boolean;
  readonly limitOverrides?: Partial<Record<KlaviyoOperation, Partial<RateLimit>>>;
  readonly retainEvents?: boolean;
}

/** The id of the account the emulator always has (the one every test used before accounts existed). */
export const DEFAULT_ACCOUNT_ID = 'EmuDef';

/** Thrown for an account definition the emulator refuses (admin API: 400; options: at start). */
export class AccountDefinitionError extends Error {}

/**
 * The emulated accounts, by id and by private key. The default account is the one of today's single
 * account emulator: it takes any key (or only `apiKeys` when given) that no other account holds.
 */
export class AccountRegistry {
  readonly defaultAccount: EmulatedAccount;
  private readonly byId = new Map<string, EmulatedAccount>();
  private readonly byKey = new Map<string, EmulatedAccount>();

  constructor(
    private readonly defaults: AccountDefaults,
    defaultOptions: { readonly id?: string; readonly name?: string; readonly apiKeys?: readonly string[] } = {},
  ) {
    const id = defaultOptions.id ?? DEFAULT_ACCOUNT_ID;
    if (!ACCOUNT_ID.test(id)) throw new AccountDefinitionError(`account id "${id}" must be 6 letters or digits`);
    this.defaultAccount = new EmulatedAccount(
      id,
      defaultOptions.name ?? 'Emulated Klaviyo Account',
      defaultOptions.apiKeys,
      { ...defaults },
      true,
    );
    this.byId.set(id, this.defaultAccount);
    for (const k of defaultOptions.apiKeys ?? []) this.byKey.set(k, this.defaultAccount);
  }

  /** Creates an account; refuses a bad or taken id, a key not shaped `pk_…` or held by another account. */
  create(options: AccountOptions = {}): { account: EmulatedAccount; privateKeys: readonly string[] } {
    const id = options.id ?? this.freeId();
    if (typeof id !== 'string' || !ACCOUNT_ID.test(id))
      throw new AccountDefinitionError(`account id "${String(id)}" must be 6 letters or digits`);
    if (this.byId.has(id)) throw new AccountDefinitionError(`account ${id} exists`);
    const keys = options.privateKeys && options.privateKeys.length > 0 ? [...options.privateKeys] : [newPrivateKey()];
    for (const k of keys) {
      if (typeof k !== 'string' || !PRIVATE_KEY.test(k))
        throw new AccountDefinitionError('a private key must look like "pk_" followed by 8 or more letters or digits');
      if (this.byKey.has(k)) throw new AccountDefinitionError('that private key belongs to another account');
    }
    if (new Set(keys).size !== keys.length) throw new AccountDefinitionError('private keys repeat');
    const account = new EmulatedAccount(id, options.name ?? `Account ${id}`, keys, {
      now: this.defaults.now,
      limits: this.defaults.limits,
      limitOverrides: { ...this.defaults.limitOverrides, ...options.limitOverrides },
      retainEvents: this.defaults.retainEvents,
      timezone: options.timezone,
      preferredCurrency: options.preferredCurrency,
      locale: options.locale,
    });
    account.limits.enabled = this.defaultAccount.limits.enabled;
    this.byId.set(id, account);
    for (const k of keys) this.byKey.set(k, account);
    return { account, privateKeys: keys };
  }

  get(id: string): EmulatedAccount | undefined {
    return this.byId.get(id);
  }

  list(): EmulatedAccount[] {
    return [...this.byId.values()];
  }

  /** The account a private key belongs to; undefined when none (401). */
  forKey(key: string): EmulatedAccount | undefined {
    const account = this.byKey.get(key);
    if (account) return account;
    return this.defaultAccount.listsKeys ? undefined : this.defaultAccount;
  }

  private freeId(): string {
    for (;;) {
      const id = newAccountId();
      if (!this.byId.has(id)) return id;
    }
  }
}
