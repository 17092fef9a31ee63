/**
 * MAPPING.md: "A property whose Intercom source is missing, null or an empty string is
 * omitted (no key), never sent as null."
 */
export function isPresent<T>(value: T | null | undefined): value is T {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string' && value.trim() === '') return false;
  if (typeof value === 'number' && !Number.isFinite(value)) return false;
  return true;
}

/** Sets `target[key] = value` only when the value is present. */
export function setIfPresent(target: Record<string, unknown>, key: string, value: unknown): void {
  if (isPresent(value)) target[key] = value;
}

/**
 * An Intercom id as a string (ids inside unique_ids and lookups are strings), or
 * undefined for null / "" / non-id values. Integer ids (conversation admin_assignee_id)
 * become their decimal string.
 */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(Math.trunc(value)) : undefined;
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  return undefined;
}

/**
 * An assignee id, or undefined when unassigned. Intercom sends null for "nobody" on
 * conversations and, on tickets and older payloads, "0" / 0; no admin or team has id 0.
 */
export function assigneeId(value: unknown): string | undefined {
  const id = idString(value);
  return id === undefined || id === '0' ? undefined : id;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

export function optionalNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

export function optionalBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}
