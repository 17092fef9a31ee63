import type { KafkaMessage } from 'kafkajs';
import type { DeadLetter } from '@iks/domain';

/** Why a record is parked: its account's circuit is open, its connection waits, or it keeps a person's order. */
export type ParkReason =
  'account_unavailable' | 'connection_paused' | 'connection_needs_reauth' | 'no_credential' | 'keeps_order';

/**
 * A record parked for its Klaviyo account (klaviyo.parked.v1), in the dead-letter envelope: the
 * original topic, partition, offset, key, value and headers, so it is delivered later exactly as
 * consumed; `attempts` counts the times it was parked, `first_failure_at` the first.
 */
export function parkedEnvelope(
  from: { readonly topic: string; readonly partition: number; readonly message: KafkaMessage },
  reason: ParkReason,
  detail: string,
  now: number,
): DeadLetter {
  const headers = Object.entries(from.message.headers ?? {}).flatMap(([key, v]) =>
    (Array.isArray(v) ? v : [v])
      .filter((x) => x !== undefined)
      .map((x) => ({ key, value: Buffer.isBuffer(x) ? x.toString('utf8') : String(x) })),
  );
  return {
    original_topic: from.topic,
    partition: from.partition,
    offset: from.message.offset,
    key: from.message.key ?? null,
    value: from.message.value ?? null,
    headers,
    stage: 'sink',
    error_class: reason === 'account_unavailable' ? 'AccountUnavailableError' : 'ConnectionUnavailable',
    error_message: detail.slice(0, 2000),
    error_code: reason,
    retriable: true,
    attempts: 1,
    first_failure_at: now,
    last_failure_at: now,
  };
}

/** A parked record parked again (its account still fails, or it keeps order behind one that does). */
export function reparked(e: DeadLetter, reason: ParkReason, detail: string, now: number): DeadLetter {
  return {
    ...e,
    error_class: reason === 'account_unavailable' ? 'AccountUnavailableError' : 'ConnectionUnavailable',
    error_message: detail.slice(0, 2000),
    error_code: reason,
    attempts: e.attempts + 1,
    last_failure_at: now,
  };
}
