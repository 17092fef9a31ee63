const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|fetch failed|socket hang up/i;

/**
 * Whether an error says "not now" (the broker, the registry or the network) rather than "never"
 * (this record). Errors carry `retriable` where they know (kafkajs' own, Klaviyo's, Intercom's);
 * a registry answering 5xx or refusing our credentials is the stage's problem, not the record's.
 * Anything else thrown while processing one record (a RangeError from a 6,000-level body, a
 * TypeError in a mapper) is that record's: it goes to the dead-letter topic.
 */
export function isTransientError(error: unknown): boolean {
  const e = error as {
    name?: unknown;
    retriable?: unknown;
    status?: unknown;
    code?: unknown;
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.retriable === true) return true;
  if (e.retriable === false) return false;
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) return true;
  if (typeof e.status === 'number' && (e.status >= 500 || e.status === 401 || e.status === 403 || e.status === 429))
    return true;
  return NETWORK.test(
    `${String(e.code ?? '')} ${String(e.cause?.code ?? '')} ${String(e.message ?? '')} ${String(e.cause?.message ?? '')}`,
  );
}
