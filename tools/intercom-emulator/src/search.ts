/**
 * Search and cursor pagination as Intercom documents them for POST /contacts/search,
 * /conversations/search and /tickets/search (components/schemas/search_request):
 * `query` is {field, operator, value} or {operator: AND|OR, value: [query…]};
 * `pagination` is {per_page ≤ 150, starting_after}; answers carry
 * `pages: {type: "pages", page, per_page, total_pages, next: {per_page, starting_after}}`.
 */

export const MAX_PER_PAGE = 150;

export type SingleFilter = { field: string; operator: string; value: unknown };
export type CompoundFilter = { operator: 'AND' | 'OR'; value: SearchQuery[] };
export type SearchQuery = SingleFilter | CompoundFilter;

export class SearchError extends Error {
  constructor(
    readonly code: 'parameter_invalid' | 'invalid_cursor',
    message: string,
  ) {
    super(message);
  }
}

interface Sortable {
  id: string;
  updated_at: number;
}

function fieldValue(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || cur === undefined) return undefined;
    if (Array.isArray(cur)) cur = cur.map((c) => (c as Record<string, unknown>)?.[key]);
    else cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Intercom accepts timestamps as strings ("1306054154"): compare numerically when either side is a number. */
function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' || typeof b === 'number') return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}

function matchScalar(actual: unknown, operator: string, value: unknown): boolean {
  if (Array.isArray(actual)) {
    // a multi-valued field (e.g. tag ids) matches when one of its values does; negations when none does
    if (operator === '!=' || operator === 'NIN' || operator === '!~')
      return actual.every((a) => matchScalar(a, operator, value));
    return actual.some((a) => matchScalar(a, operator, value));
  }
  const eq = (v: unknown) =>
    v === null
      ? actual === null || actual === undefined
      : actual !== null && actual !== undefined && compare(actual, v) === 0;
  switch (operator) {
    case '=':
      return eq(value);
    case '!=':
      return !eq(value);
    case 'IN':
      return Array.isArray(value) && value.some(eq);
    case 'NIN':
      return Array.isArray(value) && !value.some(eq);
    case '>':
      return actual != null && compare(actual, value) > 0;
    case '>=':
      return actual != null && compare(actual, value) >= 0;
    case '<':
      return actual != null && compare(actual, value) < 0;
    case '<=':
      return actual != null && compare(actual, value) <= 0;
    case '~':
      return typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase());
    case '!~':
      return !(typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase()));
    case '^':
      return typeof actual === 'string' && actual.toLowerCase().startsWith(String(value).toLowerCase());
    case '$':
      return typeof actual === 'string' && actual.toLowerCase().endsWith(String(value).toLowerCase());
    default:
      throw new SearchError('parameter_invalid', `unsupported operator ${operator}`);
  }
}

/** Field names a search may use that are not top-level paths of the object. */
const FIELD_ALIASES: Record<string, string> = {
  contact_ids: 'contacts.contacts.id',
  tag_ids: 'tags.tags.id',
  ticket_state: 'ticket_state.category',
  ticket_type_id: 'ticket_type.id',
};

export function matches(obj: unknown, query: SearchQuery): boolean {
  if (query.operator === 'AND' || query.operator === 'OR') {
    const parts = (query as CompoundFilter).value;
    if (!Array.isArray(parts)) throw new SearchError('parameter_invalid', 'AND/OR needs an array value');
    return query.operator === 'AND' ? parts.every((q) => matches(obj, q)) : parts.some((q) => matches(obj, q));
  }
  const { field, operator, value } = query as SingleFilter;
  if (typeof field !== 'string') throw new SearchError('parameter_invalid', 'field is required');
  return matchScalar(fieldValue(obj, FIELD_ALIASES[field] ?? field), operator, value);
}

export function byUpdatedThenId(a: Sortable, b: Sortable): number {
  return a.updated_at - b.updated_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

interface Cursor {
  updatedAt: number;
  id: string;
  page: number;
}

/** Opaque to clients, like Intercom's `starting_after`; it is a keyset (updated_at, id) so inserts do not shift pages. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.updatedAt, c.id, c.page])).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  try {
    const [updatedAt, id, page] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as [number, string, number];
    if (typeof updatedAt !== 'number' || typeof id !== 'string' || typeof page !== 'number') throw new Error('shape');
    return { updatedAt, id, page };
  } catch {
    throw new SearchError('invalid_cursor', 'starting_after is not a cursor this API returned');
  }
}

export interface Page<T> {
  items: T[];
  totalCount: number;
  pages: {
    type: 'pages';
    page: number;
    per_page: number;
    total_pages: number;
    next?: { per_page: number; starting_after: string };
  };
}

export function paginate<T extends Sortable>(
  all: readonly T[],
  perPage: number,
  startingAfter?: string | null,
): Page<T> {
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE) {
    throw new SearchError('parameter_invalid', `per_page must be an integer between 1 and ${MAX_PER_PAGE}`);
  }
  const sorted = [...all].sort(byUpdatedThenId);
  const cursor = startingAfter ? decodeCursor(startingAfter) : null;
  const rest = cursor
    ? sorted.filter((o) => byUpdatedThenId(o, { updated_at: cursor.updatedAt, id: cursor.id }) > 0)
    : sorted;
  const items = rest.slice(0, perPage);
  const page = (cursor?.page ?? 0) + 1;
  const last = items.at(-1);
  return {
    items,
    totalCount: sorted.length,
    pages: {
      type: 'pages',
      page,
      per_page: perPage,
      total_pages: Math.ceil(sorted.length / perPage),
      ...(rest.length > perPage && last
        ? {
            next: {
              per_page: perPage,
              starting_after: encodeCursor({ updatedAt: last.updated_at, id: last.id, page }),
            },
          }
        : {}),
    },
  };
}
