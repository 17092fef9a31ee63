import type { Operation } from './operation';

/**
 * get_accounts (GET /api/accounts) → 200: "Retrieve the account(s) associated with a given private API
 * key. This will return 1 account object within the array." The account of the key or OAuth token.
 */
export const getAccounts: Operation = ({ account, baseUrl }, { query }) => {
  const resource = account.resource(baseUrl()) as { attributes: Record<string, unknown> };
  const fields = query.get('fields[account]');
  if (fields !== null) {
    // Sparse fieldsets name attributes, or `contact_information.<field>` inside it.
    const names = fields.split(',');
    const attrs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(resource.attributes)) {
      if (names.includes(k)) attrs[k] = v;
      else if (k === 'contact_information') {
        const sub = Object.entries(v as Record<string, unknown>).filter(([s]) =>
          names.includes(`contact_information.${s}`),
        );
        if (sub.length > 0) attrs[k] = Object.fromEntries(sub);
      }
    }
    resource.attributes = attrs;
  }
  return { status: 200, body: { data: [resource], links: { self: `${baseUrl()}/api/accounts/` } } };
};
