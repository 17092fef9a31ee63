import { RateBudget } from '@iks/klaviyo';

/** The account key of the default connection while its Klaviyo account id is unknown (docs/CONNECTIONS.md). */
export const DEFAULT_ACCOUNT = 'default';

/**
 * One RateBudget per Klaviyo account (Klaviyo counts per account: "rate limited on a per-account
 * basis"), made on first use; every connection of the account shares it. BudgetShare is told of
 * each new one, to give it this replica's share.
 */
export class AccountBudgets {
  private readonly byAccount = new Map<string, RateBudget>();
  private readonly created = new Set<(account: string, budget: RateBudget) => void>();

  constructor(private readonly make: (account: string) => RateBudget = () => new RateBudget({ windowMarginMs: 200 })) {}

  get(account: string): RateBudget {
    let b = this.byAccount.get(account);
    if (!b) {
      b = this.make(account);
      this.byAccount.set(account, b);
      for (const l of this.created) l(account, b);
    }
    return b;
  }

  /** The budgets made so far, by account. */
  entries(): Array<[string, RateBudget]> {
    return [...this.byAccount.entries()];
  }

  onCreate(listener: (account: string, budget: RateBudget) => void): void {
    this.created.add(listener);
  }
}
