/**
 * Intercom timestamps are unix seconds (contracts: `type: integer, format: date-time`);
 * Klaviyo takes ISO 8601 UTC. MAPPING.md fixes the form `YYYY-MM-DDTHH:MM:SSZ` (no
 * milliseconds). A numeric string is accepted (some hand-built payloads quote numbers).
 * Returns undefined for anything that is not a finite timestamp.
 */
export function toIso8601(unixSeconds: unknown): string | undefined {
  const s = toUnixSeconds(unixSeconds);
  if (s === undefined) return undefined;
  const date = new Date(s * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A unix-seconds value as an integer, or undefined (null, "", NaN, non-numeric). */
export function toUnixSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim())) return Math.floor(Number(value.trim()));
  return undefined;
}
