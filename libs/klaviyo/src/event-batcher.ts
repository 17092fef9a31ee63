/**
 * Cuts events into Bulk Create Events requests (POST /api/event-bulk-create-jobs: "Accepts up
 * to 1,000 events per request. The maximum allowed payload size is 5MB. A single string cannot
 * exceed 100KB.") and keeps out of one request two events with the same profile, metric and
 * unique_id ("If a unique_id is repeated for the same profile and metric, the request will fail
 * and no events will be processed").
 */
import type { KlaviyoEventRecord } from '@iks/domain';
import { systemClock, type Clock } from '@iks/retry';
import { localRejection, type DeliveryResult } from './delivery-result';
import {
  BULK_ENVELOPE_BYTES,
  buildBulkEventEntry,
  hasIdentifier,
  sanitizeIdentifiers,
  type BulkEventEntry,
} from './request-builders';

export const MAX_EVENTS_PER_BULK = 1000;
/** Under the documented 5 MB so the envelope and rounding never push a request over. */
export const DEFAULT_MAX_BULK_BYTES = 4_500_000;
export const DEFAULT_MAX_WAIT_MS = 250;
/** "each string cannot be larger than 100 KB" (bulk_create_events, properties). */
export const MAX_STRING_BYTES = 100 * 1024;
/** "Properties of this event (must not exceed 400 properties)." */
export const MAX_EVENT_PROPERTIES = 400;
/** Metric name: "Must be less than 128 characters." */
export const MAX_METRIC_NAME_LENGTH = 127;

/** An event ready for a bulk request, with what the batcher needs to place it. */
export interface PreparedEvent {
  readonly record: KlaviyoEventRecord;
  readonly entry: BulkEventEntry;
  /** The entry's JSON; two events with equal keys and equal JSON are the same event. */
  readonly json: string;
  readonly bytes: number;
  /** One key per identifier: a profile matched by either email or phone must not repeat an id. */
  readonly keys: readonly string[];
}

/**
 * Checks one record and builds its bulk entry, or says why it can never be delivered
 * (no identifier once a non-E.164 phone is dropped, bad metric name, a string over 100 KB).
 */
export function prepareEvent(
  record: KlaviyoEventRecord,
  maxBytes = DEFAULT_MAX_BULK_BYTES,
): PreparedEvent | DeliveryResult {
  const ids = sanitizeIdentifiers(record.profile ?? {});
  if (!hasIdentifier(ids)) {
    return localRejection('missing_profile_identifier', 'event has no email and no E.164 phone_number', '/profile');
  }
  if (!record.metric || record.metric.length > MAX_METRIC_NAME_LENGTH) {
    return localRejection(
      'invalid_metric_name',
      `metric name must be 1..${MAX_METRIC_NAME_LENGTH} characters`,
      '/metric',
    );
  }
  if (!record.properties || typeof record.properties !== 'object' || Array.isArray(record.properties)) {
    return localRejection('invalid_properties', 'event properties must be an object', '/properties');
  }
  if (Object.keys(record.properties).length > MAX_EVENT_PROPERTIES) {
    return localRejection('too_many_properties', `more than ${MAX_EVENT_PROPERTIES} event properties`, '/properties');
  }
  const at = Date.parse(record.time);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(record.time ?? '') || Number.isNaN(at)) {
    return localRejection('invalid_time', 'time must be an ISO 8601 date-time', '/time');
  }
  const tooLong = findLongString(record.properties, '/properties');
  if (tooLong) {
    return localRejection('string_too_large', `a string is larger than ${MAX_STRING_BYTES} bytes`, tooLong);
  }
  const entry = buildBulkEventEntry(record);
  const json = JSON.stringify(entry);
  const bytes = Buffer.byteLength(json);
  if (bytes + BULK_ENVELOPE_BYTES > maxBytes) {
    return localRejection(
      'payload_too_large',
      `event is ${bytes} bytes, over the ${maxBytes} byte request budget`,
      null,
    );
  }
  const uid = record.unique_id;
  const keys = [
    ...(ids.email ? [`email:${ids.email.toLowerCase()}`] : []),
    ...(ids.phone_number ? [`phone:${ids.phone_number}`] : []),
  ].map((id) => JSON.stringify([id, record.metric, uid]));
  return { record, entry, json, bytes, keys };
}

export function isPrepared(x: PreparedEvent | DeliveryResult): x is PreparedEvent {
  return (x as PreparedEvent).entry !== undefined;
}

/**
 * The JSON pointer of the first string (value or key) over MAX_STRING_BYTES, or undefined.
 * Runs on every event: the pointer is only built for the string found, and a string's UTF-8
 * length is only counted when its UTF-16 length (1 to 3 bytes per code unit) cannot decide.
 */
function findLongString(value: unknown, pointer: string): string | undefined {
  const path = longStringPath(value);
  if (path === undefined) return undefined;
  return (
    pointer +
    path
      .reverse()
      .map((k) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`)
      .join('')
  );
}

/** The path to the first string over the limit, innermost segment first. */
function longStringPath(value: unknown): string[] | undefined {
  if (typeof value === 'string') return overStringLimit(value) ? [] : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = longStringPath(value[i]);
      if (p) {
        p.push(String(i));
        return p;
      }
    }
  } else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (overStringLimit(k)) return [k];
      const p = longStringPath((value as Record<string, unknown>)[k]);
      if (p) {
        p.push(k);
        return p;
      }
    }
  }
  return undefined;
}

function overStringLimit(s: string): boolean {
  if (s.length <= MAX_STRING_BYTES / 3) return false;
  if (s.length > MAX_STRING_BYTES) return true;
  return Buffer.byteLength(s) > MAX_STRING_BYTES;
}

/** What the batcher needs from an item. */
export interface BatchItem {
  readonly json: string;
  readonly bytes: number;
  readonly keys: readonly string[];
}

/** One place in a bulk request; `duplicates` are identical copies that share its outcome. */
export interface BatchSlot<T extends BatchItem> {
  readonly item: T;
  readonly duplicates: T[];
}

export interface EventBatcherOptions {
  readonly maxCount?: number;
  readonly maxBytes?: number;
  /** How long the first event of a batch may wait for company; Infinity: only count/bytes/flush cut. */
  readonly maxWaitMs?: number;
  readonly clock?: Clock;
}

/**
 * Accumulates items and hands each cut batch to `onBatch`. A batch is cut when the next item
 * would pass maxBytes, when it reaches maxCount, when its first item has waited maxWaitMs, or
 * on flush().
 *
 * Same (identifier, metric, unique_id) as an item already in the open batch:
 * - identical JSON: the same event twice, so it rides along as a duplicate of the first and
 *   gets its outcome (Klaviyo would have de-duplicated it by unique_id anyway);
 * - different JSON: deferred to a later batch, never dropped (Klaviyo keeps the first by
 *   unique_id; which copy wins is Klaviyo's rule, not ours).
 */
export class EventBatcher<T extends BatchItem> {
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private readonly maxWaitMs: number;
  private readonly clock: Clock;
  private open: BatchSlot<T>[] = [];
  private openBytes = BULK_ENVELOPE_BYTES;
  private openKeys = new Map<string, BatchSlot<T>>();
  private deferred: T[] = [];
  private timer: AbortController | null = null;

  constructor(
    private readonly onBatch: (batch: BatchSlot<T>[]) => void,
    opts: EventBatcherOptions = {},
  ) {
    this.maxCount = Math.min(opts.maxCount ?? MAX_EVENTS_PER_BULK, MAX_EVENTS_PER_BULK);
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BULK_BYTES;
    this.maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.clock = opts.clock ?? systemClock;
  }

  /** Items not yet handed to onBatch (open batch, its duplicates, and deferred). */
  get pending(): number {
    return this.open.reduce((n, s) => n + 1 + s.duplicates.length, 0) + this.deferred.length;
  }

  add(item: T): void {
    if (!this.place(item)) this.deferred.push(item);
  }

  /** Cut the open batch now (deferred items start the next one). */
  flush(): void {
    this.cut();
  }

  /** Cut until nothing is pending. */
  flushAll(): void {
    while (this.pending > 0) this.cut();
  }

  /** Take every pending item out, in the order they would have been sent (open batch, then deferred). */
  drain(): T[] {
    this.stopTimer();
    const out = [...this.open.flatMap((s) => [s.item, ...s.duplicates]), ...this.deferred];
    this.open = [];
    this.openBytes = BULK_ENVELOPE_BYTES;
    this.openKeys = new Map();
    this.deferred = [];
    return out;
  }

  /** Stop the wait timer (pending items stay until flushed). */
  close(): void {
    this.stopTimer();
  }

  private place(item: T): boolean {
    let holder: BatchSlot<T> | undefined;
    for (const k of item.keys) {
      const s = this.openKeys.get(k);
      if (s) {
        holder = s;
        break;
      }
    }
    if (holder) {
      if (holder.item.json !== item.json) return false;
      holder.duplicates.push(item);
      return true;
    }
    const extra = item.bytes + (this.open.length ? 1 : 0);
    if (this.open.length && this.openBytes + extra > this.maxBytes) this.cut();
    const slot: BatchSlot<T> = { item, duplicates: [] };
    this.open.push(slot);
    this.openBytes += item.bytes + (this.open.length > 1 ? 1 : 0);
    for (const k of item.keys) this.openKeys.set(k, slot);
    if (this.open.length === 1) this.startTimer();
    if (this.open.length >= this.maxCount) this.cut();
    return true;
  }

  private cut(): void {
    this.stopTimer();
    const batch = this.open;
    this.open = [];
    this.openBytes = BULK_ENVELOPE_BYTES;
    this.openKeys = new Map();
    if (batch.length) this.onBatch(batch);
    const deferred = this.deferred;
    this.deferred = [];
    for (const d of deferred) this.add(d);
  }

  private startTimer(): void {
    if (!Number.isFinite(this.maxWaitMs)) return;
    const ac = new AbortController();
    this.timer = ac;
    this.clock.sleep(this.maxWaitMs, ac.signal).then(
      () => {
        if (this.timer === ac) this.cut();
      },
      () => undefined,
    );
  }

  private stopTimer(): void {
    this.timer?.abort();
    this.timer = null;
  }
}
