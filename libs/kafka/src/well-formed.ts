/** ES2024 String.prototype.isWellFormed / toWellFormed (native in Node 20; not in this TypeScript lib). */
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/**
 * The record with every lone surrogate in its strings replaced by U+FFFD, as a standard UTF-8
 * encoder does. Avro strings are UTF-8, and avsc encodes short strings by hand into three
 * invalid bytes that decode as THREE U+FFFD (long strings go through Buffer and give one): a
 * webhook whose id is `"\udfff"` would reach Klaviyo with a unique_id that depends on the
 * string's length. Copies only what changes; records without surrogates are returned as is.
 */
export function wellFormedStrings<T>(value: T): T {
  if (typeof value === 'string') {
    const s = value as unknown as WellFormed;
    return (s.isWellFormed() ? value : s.toWellFormed()) as T;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const w = wellFormedStrings(v);
      if (w !== v) (out ??= [...value])[i] = w;
    });
    return (out ?? value) as T;
  }
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const w = wellFormedStrings(v);
      if (w !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = w;
    }
    return (out ?? value) as T;
  }
  return value;
}
