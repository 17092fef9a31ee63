import type { IHeaders, Producer } from 'kafkajs';
import type { DeadLetter } from '@iks/domain';
import { sendInBoundedRequests } from './producer-requests';

/**
 * What the CLI (`dlq list|reprocess`) and the console share about dead letters: the reason they
 * are counted by, the filter, and how one is sent back to the topic it came from.
 */

/** The header a reprocessed record carries: where it came from (`<dlq topic>:<partition>:<offset>`). */
export const REPROCESSED_FROM = 'iks-reprocessed-from';
/**
 * Lineage header on the transformer's outputs: unix ms when ingest accepted the Intercom
 * notification they were mapped from (the console's "webhook received" time). Not retry state:
 * a reprocessed dead letter keeps it.
 */
export const RECEIVED_AT = 'iks-received-at';

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** A reason to count by: the error class, Klaviyo's code, and the message without its numbers and ids. */
export function reasonKey(l: Pick<DeadLetter, 'error_class' | 'error_code' | 'error_message'>): string {
  const message = oneLine(l.error_message)
    .replace(/\b[0-9a-f]{16,}\b/gi, '<id>')
    .replace(/(?<!\d)(?<!Klaviyo )\d+/g, '#')
    .slice(0, 160);
  return `${l.error_class}${l.error_code ? ` [${l.error_code}]` : ''}: ${message}`;
}

export function matchesWhere(letter: DeadLetter, where: string | null): boolean {
  if (where === null) return true;
  const needle = where.toLowerCase();
  return letter.error_message.toLowerCase().includes(needle) || letter.error_class.toLowerCase().includes(needle);
}

/** Everything but the pipeline's own `iks-*` headers of retry state (lineage stays), plus where it came from. */
export function reprocessHeaders(letter: DeadLetter, from: string): IHeaders {
  const headers: Record<string, string[]> = {};
  for (const h of letter.headers) {
    if (h.key.toLowerCase().startsWith('iks-') && h.key.toLowerCase() !== RECEIVED_AT) continue;
    (headers[h.key] ??= []).push(h.value);
  }
  const out: IHeaders = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v.length === 1 ? v[0] : v;
  out[REPROCESSED_FROM] = from;
  return out;
}

/**
 * Sends dead letters back to their original topics with their original key, value and headers
 * (acks=all), so that the stage that failed processes them again. `at` is where each letter is
 * (`<dlq topic>:<partition>:<offset>`).
 */
export async function sendBack(
  producer: Producer,
  letters: ReadonlyArray<{ at: string; letter: DeadLetter }>,
): Promise<void> {
  await sendInBoundedRequests(
    producer,
    letters.map(({ at, letter }) => ({
      topic: letter.original_topic,
      key: letter.key ? Buffer.from(letter.key) : null,
      value: letter.value ? Buffer.from(letter.value) : null,
      headers: reprocessHeaders(letter, at),
    })),
  );
}
