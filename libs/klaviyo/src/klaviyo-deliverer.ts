/**
 * The sink's Klaviyo port: records in, one DeliveryResult per record out. Delivered means
 * Klaviyo accepted it (202/200/201); rejected means it never will be (the sink dead-letters
 * it), or, with `error.retriable`, that Klaviyo kept failing for the whole retry budget.
 * 401/403/404/405/415 are not a record's fault: they are thrown, so the sink stops instead of
 * dead-lettering the stream.
 */
import { Logger } from '@nestjs/common';
import type { KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';
import { retry, systemClock, type Clock, type RetryInfo } from '@iks/retry';
import { DELIVERED, localRejection, rejected, type DeliveryError, type DeliveryResult, type Priority } from './delivery-result';
import { DEFAULT_MAX_BULK_BYTES, DEFAULT_MAX_WAIT_MS, EventBatcher, isPrepared, prepareEvent, type BatchSlot, type EventBatcherOptions, type PreparedEvent } from './event-batcher';
import { KlaviyoApiError } from './klaviyo-api.error';
import { KlaviyoHttpClient, type KlaviyoResponse } from './klaviyo-http.client';
import { MAX_PROFILES_PER_JOB, ProfileBulkImporter, type ProfileBulkImportOptions } from './profile-bulk-import';
import { RateBudget, type EndpointGroup } from './rate-budget';
import {
  buildBulkCreateEventsBody,
  buildCreateEventBody,
  buildProfileDeletionBody,
  buildProfileImportBody,
  deletionIdentifier,
  hasIdentifier,
  sanitizeIdentifiers,
} from './request-builders';

export const EVENTS_BULK_PATH = '/api/event-bulk-create-jobs';
export const EVENTS_PATH = '/api/events';
export const PROFILE_IMPORT_PATH = '/api/profile-import';
export const DELETION_PATH = '/api/data-privacy-deletion-jobs';
/** "The maximum allowed payload size is 100KB." (create_or_update_profile) */
export const MAX_PROFILE_IMPORT_BYTES = 100 * 1024;

const SYSTEMIC_STATUSES = new Set([401, 403, 404, 405, 415]);

/** Pointer to one entry of a bulk request: /data/attributes/events-bulk-create/data/<i>[/...] */
const BULK_ENTRY_POINTER = /^\/data\/attributes\/events-bulk-create\/data\/(\d+)(?:\/|$)/;

export interface DeliveryRetryOptions {
  /** Total time to keep retrying 408/429/5xx/network for one request. Default 6 h. */
  readonly maxElapsedMs?: number;
  readonly initialMs?: number;
  readonly maxMs?: number;
  readonly factor?: number;
  readonly jitter?: 'full' | 'none' | number;
  readonly random?: () => number;
}

export interface KlaviyoDelivererOptions {
  readonly client: KlaviyoHttpClient;
  /** Share one per Klaviyo account across everything that calls it. */
  readonly budget?: RateBudget;
  readonly clock?: Clock;
  readonly retry?: DeliveryRetryOptions;
  /** Batch cut rules (maxCount 1,000, maxBytes 4.5 MB, maxWaitMs 250 for submitEvent). */
  readonly batch?: Omit<EventBatcherOptions, 'clock'>;
  /** Bulk requests in flight per deliverEvents call. Default 2. */
  readonly bulkConcurrency?: number;
  /** Single requests in flight (Create Event fallback, profile-import, deletions). Default 8. */
  readonly singleConcurrency?: number;
  /** Bulk Import Profiles for deliverProfiles calls with at least `threshold` records (default: off). */
  readonly profileBulk?: ProfileBulkImportOptions & { readonly threshold?: number };
  /** Aborts waits and retries (shutdown). */
  readonly signal?: AbortSignal;
  /** Called before each retry wait, e.g. for metrics. */
  readonly onRetry?: (operation: string, info: RetryInfo) => void;
}

export class KlaviyoDeliverer {
  private readonly logger = new Logger(KlaviyoDeliverer.name);
  private readonly client: KlaviyoHttpClient;
  private readonly budget: RateBudget;
  private readonly clock: Clock;
  private readonly retryOpts: DeliveryRetryOptions;
  private readonly bulkConcurrency: number;
  private readonly singleConcurrency: number;
  private readonly streams = new Map<Priority, EventStream>();
  /** Identity keys of submitted events in flight, so a later copy waits for the earlier one. */
  private readonly streamKeys = new Map<string, Promise<void>>();

  constructor(private readonly opts: KlaviyoDelivererOptions) {
    this.client = opts.client;
    this.clock = opts.clock ?? systemClock;
    this.budget = opts.budget ?? new RateBudget({ clock: this.clock });
    this.retryOpts = opts.retry ?? {};
    this.bulkConcurrency = opts.bulkConcurrency ?? 2;
    this.singleConcurrency = opts.singleConcurrency ?? 8;
  }

  /** Deliver a set of events (e.g. one Kafka batch): one result per record, in input order. */
  async deliverEvents(records: readonly KlaviyoEventRecord[], priority: Priority = 'live'): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(records.length);
    const indexOf = new Map<PreparedEvent, number>();
    const batches: BatchSlot<PreparedEvent>[][] = [];
    const batcher = new EventBatcher<PreparedEvent>((b) => batches.push(b), { ...this.opts.batch, maxWaitMs: Infinity, clock: this.clock });
    records.forEach((record, i) => {
      const p = prepareEvent(record, this.opts.batch?.maxBytes);
      if (!isPrepared(p)) {
        results[i] = p;
        return;
      }
      indexOf.set(p, i);
      batcher.add(p);
    });
    batcher.flushAll();
    const inFlight = new Map<string, Promise<void>>();
    await mapLimit(batches, this.bulkConcurrency, async (batch) => {
      const outcome = await sequenced(inFlight, batch, () => this.sendEventBatch(batch.map((s) => s.item), priority));
      for (const slot of batch) {
        const r = outcome.get(slot.item)!;
        for (const item of [slot.item, ...slot.duplicates]) results[indexOf.get(item)!] = r;
      }
    });
    return results;
  }

  /**
   * Streaming form: events from many callers share bulk requests, cut by count, bytes or
   * maxWaitMs (so a lone live event waits at most ~250 ms before it is sent).
   */
  submitEvent(record: KlaviyoEventRecord, priority: Priority = 'live'): Promise<DeliveryResult> {
    const p = prepareEvent(record, this.opts.batch?.maxBytes);
    if (!isPrepared(p)) return Promise.resolve(p);
    return new Promise<DeliveryResult>((resolve, reject) => {
      const st = this.stream(priority);
      st.batcher.add({ ...p, resolve, reject });
      void this.pumpStream(priority, st);
    });
  }

  /**
   * Profile upserts, in order per Intercom contact: Create or Update Profile per record, or,
   * with at least `profileBulk.threshold` records, Bulk Import Profiles jobs (see
   * profile-bulk-import.ts) in rounds that hold one upsert per contact each.
   */
  async deliverProfiles(records: readonly KlaviyoProfileRecord[], priority: Priority = 'live'): Promise<DeliveryResult[]> {
    if (records.length >= (this.opts.profileBulk?.threshold ?? Number.POSITIVE_INFINITY)) return this.deliverProfilesInBulk(records, priority);
    const results: DeliveryResult[] = new Array(records.length);
    const byContact = new Map<string, number[]>();
    records.forEach((r, i) => {
      const key = r.intercom_contact_id ?? `#${i}`;
      byContact.set(key, [...(byContact.get(key) ?? []), i]);
    });
    await mapLimit([...byContact.values()], this.singleConcurrency, async (indexes) => {
      for (const i of indexes) results[i] = await this.deliverProfile(records[i], priority);
    });
    return results;
  }

  /** Data privacy deletions (request_profile_deletion), one request per record. */
  async deliverDeletions(records: readonly KlaviyoDeletionRecord[], priority: Priority = 'live'): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(records.length);
    await mapLimit(records.map((r, i) => [r, i] as const), this.singleConcurrency, async ([r, i]) => {
      const id = deletionIdentifier(r);
      if (!id) {
        results[i] = localRejection('missing_profile_identifier', 'deletion has no email and no E.164 phone_number', null);
        return;
      }
      results[i] = await this.single('data-privacy-deletion', priority, DELETION_PATH, buildProfileDeletionBody(id));
    });
    return results;
  }

  private async deliverProfile(r: KlaviyoProfileRecord, priority: Priority): Promise<DeliveryResult> {
    return checkProfile(r) ?? this.single('profile-import', priority, PROFILE_IMPORT_PATH, buildProfileImportBody(r));
  }

  private async deliverProfilesInBulk(records: readonly KlaviyoProfileRecord[], priority: Priority): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(records.length);
    // Round k holds the k-th upsert of each contact: a job applies its profiles in no stated
    // order, so one contact's upserts go in successive jobs.
    const rounds: number[][] = [];
    const seen = new Map<string, number>();
    records.forEach((r, i) => {
      const refused = checkProfile(r);
      if (refused) {
        results[i] = refused;
        return;
      }
      const key = r.intercom_contact_id ?? `#${i}`;
      const k = seen.get(key) ?? 0;
      seen.set(key, k + 1);
      (rounds[k] ??= []).push(i);
    });
    const importer = new ProfileBulkImporter(
      (group, prio, method, path, body) => this.call(group, prio, path, body, method),
      (r, prio) => this.deliverProfile(r, prio),
      { ...this.opts.profileBulk, clock: this.clock, signal: this.opts.signal },
    );
    for (const round of rounds) {
      for (const chunk of chunkProfiles(round, records)) {
        const out = await importer.run(chunk.map((i) => records[i]), priority);
        chunk.forEach((i, k) => (results[i] = out[k]));
      }
    }
    return results;
  }

  /**
   * One bulk request for `items` (their keys are distinct). A non-retriable refusal names the
   * bad entries by pointer: those are rejected and the rest go again in bulk. Without a usable
   * pointer every event goes through Create Event, so exactly the bad ones are rejected.
   */
  private async sendEventBatch(items: readonly PreparedEvent[], priority: Priority, preAcquired = false): Promise<Map<PreparedEvent, DeliveryResult>> {
    const out = new Map<PreparedEvent, DeliveryResult>();
    let pending = [...items];
    let granted = preAcquired;
    while (pending.length) {
      try {
        await this.call('events-bulk', priority, EVENTS_BULK_PATH, buildBulkCreateEventsBody(pending.map((p) => p.entry)), 'POST', granted);
        granted = false;
        for (const p of pending) out.set(p, DELIVERED);
        return out;
      } catch (err) {
        granted = false;
        const e = this.classify(err);
        if (e.retriable) {
          for (const p of pending) out.set(p, rejected(toDeliveryError(e)));
          return out;
        }
        if (e.status === 413 && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          for (const part of [pending.slice(0, half), pending.slice(half)]) {
            for (const [k, v] of await this.sendEventBatch(part, priority)) out.set(k, v);
          }
          return out;
        }
        const bad = new Map<number, DeliveryError>();
        for (const obj of e.errors.length ? e.errors : [{ source: { pointer: e.pointer ?? undefined }, code: e.code, detail: e.detail }]) {
          const m = obj.source?.pointer ? BULK_ENTRY_POINTER.exec(obj.source.pointer) : null;
          const idx = m ? Number(m[1]) : -1;
          if (idx >= 0 && idx < pending.length && !bad.has(idx)) {
            bad.set(idx, { status: e.status, code: obj.code ?? e.code, detail: obj.detail ?? e.detail, pointer: obj.source!.pointer!, retriable: false });
          }
        }
        if (bad.size === 0) {
          this.logger.warn(`bulk create refused without an entry pointer (${e.status} ${e.code}); sending ${pending.length} events one by one`);
          await mapLimit(pending, this.singleConcurrency, async (p) => {
            out.set(p, await this.single('events', priority, EVENTS_PATH, buildCreateEventBody(p.record)));
          });
          return out;
        }
        for (const [idx, error] of bad) out.set(pending[idx], rejected(error));
        pending = pending.filter((_, i) => !bad.has(i));
      }
    }
    return out;
  }

  /** One request whose failure belongs to its one record. */
  private async single(group: EndpointGroup, priority: Priority, path: string, body: unknown): Promise<DeliveryResult> {
    try {
      await this.call(group, priority, path, body);
      return DELIVERED;
    } catch (err) {
      return rejected(toDeliveryError(this.classify(err)));
    }
  }

  /**
   * Rethrows what is not a record's fault: auth (401/403), a wrong base URL or media type
   * (404/405/415), programming errors, shutdown. Dead-lettering every record for those would
   * empty the topic into the DLQ; thrown, they stop the sink before it commits.
   */
  private classify(err: unknown): KlaviyoApiError {
    if (!(err instanceof KlaviyoApiError)) throw err;
    if (err.status !== null && SYSTEMIC_STATUSES.has(err.status)) throw err;
    return err;
  }

  /**
   * Budget, send, and retry 408/429/5xx/network for up to maxElapsedMs. A 429 also pauses the
   * endpoint group for Retry-After, so other callers do not walk into the same full window.
   */
  private call(
    group: EndpointGroup, priority: Priority, path: string, body: unknown, method: 'GET' | 'POST' = 'POST', preAcquired = false,
  ): Promise<KlaviyoResponse> {
    const r = this.retryOpts;
    const operation = `${method} ${path}`;
    let granted = preAcquired;
    return retry(
      async () => {
        if (granted) granted = false; // the caller already holds a grant for the first attempt
        else await this.budget.acquire(group, priority, this.opts.signal);
        try {
          return await this.client.request(method, path, method === 'GET' ? undefined : body, { signal: this.opts.signal });
        } catch (err) {
          if (err instanceof KlaviyoApiError && err.status === 429) this.budget.pause(err.retryAfterMs ?? 1000, group);
          throw err;
        }
      },
      {
        maxElapsedMs: r.maxElapsedMs ?? 6 * 3600_000,
        initialMs: r.initialMs ?? 1000,
        maxMs: r.maxMs ?? 5 * 60_000,
        factor: r.factor ?? 2,
        jitter: r.jitter ?? 'full',
        random: r.random,
        clock: this.clock,
        signal: this.opts.signal,
        onRetry: (info) => {
          const e = info.error as Error;
          this.logger.warn(`${operation} attempt ${info.attempt} in ${info.delayMs} ms: ${e?.message}`);
          this.opts.onRetry?.(operation, info);
        },
      },
    );
  }

  /**
   * One stream per priority. The batcher cuts only full batches (count/bytes) by itself; a
   * partial batch is cut when the rate budget grants the next bulk request. So under light
   * traffic a lone event goes out after ~maxWaitMs, and when Klaviyo's windows are the limit
   * (150 bulk requests a minute) the events keep filling the request while it waits for its
   * grant: requests grow toward 1,000 events instead of the budget being spent on small ones.
   */
  private stream(priority: Priority): EventStream {
    let st = this.streams.get(priority);
    if (!st) {
      const ready: BatchSlot<Submitted>[][] = [];
      const batcher = new EventBatcher<Submitted>((batch) => ready.push(batch), { ...this.opts.batch, maxWaitMs: Infinity, clock: this.clock });
      st = { batcher, ready, pumping: false, inFlight: 0, slot: null };
      this.streams.set(priority, st);
    }
    return st;
  }

  private async pumpStream(priority: Priority, st: EventStream): Promise<void> {
    if (st.pumping) return;
    st.pumping = true;
    const maxWaitMs = this.opts.batch?.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    try {
      while (st.ready.length || st.batcher.pending) {
        // a partial batch waits for company, a full one does not
        if (!st.ready.length && maxWaitMs > 0) await this.clock.sleep(maxWaitMs, this.opts.signal);
        while (st.inFlight >= this.bulkConcurrency) await new Promise<void>((r) => (st.slot = r));
        await this.budget.acquire('events-bulk', priority, this.opts.signal);
        if (!st.ready.length) st.batcher.flush();
        const batch = st.ready.shift();
        if (!batch) continue; // cannot happen while pending > 0; the grant is simply not used
        st.inFlight++;
        void sequenced(this.streamKeys, batch, () => this.sendEventBatch(batch.map((x) => x.item), priority, true))
          .then(
            (outcome) => {
              for (const slot of batch) {
                const res = outcome.get(slot.item)!;
                for (const x of [slot.item, ...slot.duplicates]) x.resolve(res);
              }
            },
            (err) => {
              for (const slot of batch) for (const x of [slot.item, ...slot.duplicates]) x.reject(err);
            },
          )
          .finally(() => {
            st.inFlight--;
            const wake = st.slot;
            st.slot = null;
            wake?.();
          });
      }
    } catch (err) {
      // shutdown (abort): everything still held is refused; the sink does not commit it
      for (const batch of st.ready.splice(0)) for (const slot of batch) for (const x of [slot.item, ...slot.duplicates]) x.reject(err);
      st.batcher.flushAll();
      for (const batch of st.ready.splice(0)) for (const slot of batch) for (const x of [slot.item, ...slot.duplicates]) x.reject(err);
    } finally {
      st.pumping = false;
    }
  }
}

interface EventStream {
  readonly batcher: EventBatcher<Submitted>;
  readonly ready: BatchSlot<Submitted>[][];
  pumping: boolean;
  inFlight: number;
  slot: (() => void) | null;
}

interface Submitted extends PreparedEvent {
  readonly resolve: (r: DeliveryResult) => void;
  readonly reject: (e: unknown) => void;
}

/** Why a profile can never be upserted, or undefined. */
function checkProfile(r: KlaviyoProfileRecord): DeliveryResult | undefined {
  if (!hasIdentifier(sanitizeIdentifiers(r))) {
    return localRejection('missing_profile_identifier', 'profile has no email and no E.164 phone_number', null);
  }
  const bytes = Buffer.byteLength(JSON.stringify(buildProfileImportBody(r)));
  if (bytes > MAX_PROFILE_IMPORT_BYTES) return localRejection('payload_too_large', `profile is ${bytes} bytes, over Klaviyo's 100 KB`, null);
  return undefined;
}

/** Jobs of at most 10,000 profiles and under 4.5 MB (Klaviyo: 5 MB). */
function chunkProfiles(indexes: readonly number[], records: readonly KlaviyoProfileRecord[]): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (const i of indexes) {
    const b = Buffer.byteLength(JSON.stringify(buildProfileImportBody(records[i]).data)) + 1;
    if (cur.length && (cur.length >= MAX_PROFILES_PER_JOB || bytes + b > DEFAULT_MAX_BULK_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(i);
    bytes += b;
  }
  if (cur.length) out.push(cur);
  return out;
}

function toDeliveryError(e: KlaviyoApiError): DeliveryError {
  return { status: e.status, code: e.code, detail: e.detail, pointer: e.pointer, retriable: e.retriable };
}

/**
 * Runs `send` once every earlier batch holding one of this batch's keys has finished, so a copy
 * deferred out of a batch reaches Klaviyo after the first copy (Klaviyo keeps the first
 * unique_id it sees), even with several bulk requests in flight.
 */
function sequenced<R>(inFlight: Map<string, Promise<void>>, batch: readonly BatchSlot<PreparedEvent>[], send: () => Promise<R>): Promise<R> {
  const keys = batch.flatMap((s) => s.item.keys);
  const before = [...new Set(keys.map((k) => inFlight.get(k)).filter((p): p is Promise<void> => p !== undefined))];
  const run = (before.length ? Promise.allSettled(before) : Promise.resolve()).then(send);
  const done = run.then(
    () => undefined,
    () => undefined,
  );
  for (const k of keys) inFlight.set(k, done);
  void done.then(() => {
    for (const k of keys) if (inFlight.get(k) === done) inFlight.delete(k);
  });
  return run;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}
