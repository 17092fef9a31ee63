/**
 * Events to Klaviyo: every caller's events share Bulk Create Events requests
 * (POST /api/event-bulk-create-jobs), cut by count, bytes, or when the rate budget grants the
 * next request. A refusal that names entries by pointer rejects those and sends the rest again
 * in bulk; one that names none sends each event through Create Event (POST /api/events), so
 * exactly the bad ones are rejected.
 */
import { Logger } from '@nestjs/common';
import type { KlaviyoEventRecord } from '@iks/domain';
import { abortReason } from '@iks/retry';
import { AccountUnavailableError } from './account-circuit';
import { unavailable, type DeliveryError, type DeliveryResult, type Priority } from './delivery-result';
import {
  DEFAULT_MAX_WAIT_MS,
  EventBatcher,
  isPrepared,
  prepareEvent,
  type BatchSlot,
  type EventBatcherOptions,
  type PreparedEvent,
} from './event-batcher';
import { recordFault, refusal, type KlaviyoCaller } from './klaviyo-caller';
import { mapLimit } from './map-limit';
import { buildBulkCreateEventsBody, buildCreateEventBody } from './request-builders';

export const EVENTS_BULK_PATH = '/api/event-bulk-create-jobs';
export const EVENTS_PATH = '/api/events';
/**
 * With a paced budget a partial batch waits for company only until submissions pause this long
 * (at most maxWaitMs): the sink submits a fetch's partitions within milliseconds of each other and
 * fetches nothing more until they are delivered, so a longer wait only delays them.
 */
export const PACED_GATHER_MS = 15;

/** Pointer to one entry of a bulk request: /data/attributes/events-bulk-create/data/<i>[/...] */
const BULK_ENTRY_POINTER = /^\/data\/attributes\/events-bulk-create\/data\/(\d+)(?:\/|$)/;

export interface KlaviyoEventStreamOptions {
  /** Batch cut rules (maxCount 1,000, maxBytes 4.5 MB, maxWaitMs 250). */
  readonly batch?: Omit<EventBatcherOptions, 'clock'>;
  /** Bulk requests on the wire per priority; one waiting to retry does not hold its place. Default 2. */
  readonly bulkConcurrency?: number;
  /** Create Event requests in flight for one refused bulk request. Default 8. */
  readonly singleConcurrency?: number;
}

interface Submitted extends PreparedEvent {
  readonly resolve: (r: DeliveryResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Lane {
  readonly batcher: EventBatcher<Submitted>;
  readonly ready: BatchSlot<Submitted>[][];
  pumping: boolean;
  inFlight: number;
  slot: (() => void) | null;
  /** When the last event was submitted (the caller's clock). */
  lastAddAt: number;
}

type BatchOutcome = { readonly results: ReadonlyMap<PreparedEvent, DeliveryResult> } | { readonly error: unknown };

export class KlaviyoEventStream {
  private readonly logger = new Logger(KlaviyoEventStream.name);
  private readonly lanes = new Map<Priority, Lane>();
  /** Identity keys of events in flight, so a later copy waits for the earlier one. */
  private readonly inFlightKeys = new Map<string, Promise<void>>();
  /** Unsettled events per submitter's signal: one abort listener per signal, not per event. */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Submitted>>();
  private readonly bulkConcurrency: number;
  private readonly singleConcurrency: number;

  constructor(
    private readonly caller: KlaviyoCaller,
    private readonly opts: KlaviyoEventStreamOptions = {},
  ) {
    this.bulkConcurrency = opts.bulkConcurrency ?? 2;
    this.singleConcurrency = opts.singleConcurrency ?? 8;
  }

  /**
   * One event's result: delivered, or rejected (never deliverable, or retries ran out). Rejects
   * (throws) only for what is not the event's fault: a misconfigured Klaviyo URL, shutdown.
   *
   * `signal`: the submitter gives up (its Kafka batch was revoked in a rebalance). If the event
   * is still queued it is withdrawn and the promise rejects with the signal's reason, so the
   * partition's next owner is the only one to send it and no budget is spent on a copy Klaviyo
   * would ignore. An event already in a request on the wire (or waiting to retry it) still goes.
   */
  submit(record: KlaviyoEventRecord, priority: Priority = 'live', signal?: AbortSignal): Promise<DeliveryResult> {
    const p = prepareEvent(record, this.opts.batch?.maxBytes);
    if (!isPrepared(p)) return Promise.resolve(p);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<DeliveryResult>((resolve, reject) => {
      const lane = this.lane(priority);
      const mine = signal ? this.watch(signal) : undefined;
      const item: Submitted = {
        ...p,
        resolve: (r) => (mine?.delete(item), resolve(r)),
        reject: (e) => (mine?.delete(item), reject(e)),
      };
      mine?.add(item);
      lane.lastAddAt = this.caller.clock.now();
      lane.batcher.add(item);
      void this.pump(priority, lane);
    });
  }

  /** The unsettled events submitted with `signal`; when it fires, those still queued are withdrawn. */
  private watch(signal: AbortSignal): Set<Submitted> {
    let mine = this.bySignal.get(signal);
    if (!mine) {
      const items = new Set<Submitted>();
      signal.addEventListener('abort', () => this.withdraw(items, abortReason(signal)), { once: true });
      this.bySignal.set(signal, items);
      mine = items;
    }
    return mine;
  }

  /** Takes `items` out of every queue (rejected with `reason`); the rest are re-cut in their order, so requests stay full. */
  private withdraw(items: ReadonlySet<Submitted>, reason: unknown): void {
    if (items.size === 0) return;
    for (const lane of this.lanes.values()) {
      const queued = [
        ...lane.ready.splice(0).flatMap((b) => b.flatMap((s) => [s.item, ...s.duplicates])),
        ...lane.batcher.drain(),
      ];
      for (const x of queued) {
        if (items.has(x)) x.reject(reason);
        else lane.batcher.add(x);
      }
    }
  }

  /**
   * One lane per priority. The batcher cuts only full batches (count/bytes) by itself; a
   * partial batch is cut when the rate budget grants the next bulk request. So under light
   * traffic a lone event goes out after ~maxWaitMs, and when Klaviyo's windows are the limit
   * (150 bulk requests a minute) the events keep filling the request while it waits for its
   * grant: requests grow toward 1,000 events instead of the budget being spent on small ones.
   */
  private lane(priority: Priority): Lane {
    let lane = this.lanes.get(priority);
    if (!lane) {
      const ready: BatchSlot<Submitted>[][] = [];
      const batcher = new EventBatcher<Submitted>((batch) => ready.push(batch), {
        ...this.opts.batch,
        maxWaitMs: Infinity,
        clock: this.caller.clock,
      });
      lane = { batcher, ready, pumping: false, inFlight: 0, slot: null, lastAddAt: 0 };
      this.lanes.set(priority, lane);
    }
    return lane;
  }

  private async pump(priority: Priority, lane: Lane): Promise<void> {
    if (lane.pumping) return;
    lane.pumping = true;
    const maxWaitMs = this.opts.batch?.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    const { signal, budget } = this.caller;
    try {
      while (lane.ready.length || lane.batcher.pending) {
        // a partial batch waits for company, a full one does not
        if (!lane.ready.length && maxWaitMs > 0) await this.waitForCompany(lane, maxWaitMs);
        while (lane.inFlight >= this.bulkConcurrency) await new Promise<void>((r) => (lane.slot = r));
        const closed = this.caller.unavailable;
        if (closed !== null) {
          // the account's circuit is open: answer what is queued at once, without spending a grant
          lane.batcher.flushAll();
          for (const b of lane.ready.splice(0))
            settle(b, { results: new Map(b.map((x) => [x.item, unavailable(closed)] as const)) });
          continue;
        }
        // a quiet account's burst (paced budgets) goes to full requests; a partial one waits for the pace's slot
        await budget.acquire('events-bulk', priority, signal, { burst: lane.ready.length > 0 });
        if (!lane.ready.length) lane.batcher.flush();
        const batch = lane.ready.shift();
        if (!batch) continue; // cannot happen while pending > 0; the grant is simply not used
        // The place is held while the request is on the wire, not while it waits to retry: a
        // request backing off for one partition's events does not hold back everyone else's.
        lane.inFlight++;
        let held = true;
        const release = () => {
          if (!held) return;
          held = false;
          lane.inFlight--;
          const wake = lane.slot;
          lane.slot = null;
          wake?.();
        };
        void sequenced(this.inFlightKeys, batch, () =>
          this.sendBatch(
            batch.map((s) => s.item),
            priority,
            true,
            release,
          ),
        )
          .then(
            (results) => settle(batch, { results }),
            (error) => settle(batch, { error }),
          )
          .finally(release);
      }
    } catch (error) {
      // shutdown (abort): everything still held is refused; the sink does not commit it
      lane.batcher.flushAll();
      for (const batch of lane.ready.splice(0)) settle(batch, { error });
    } finally {
      lane.pumping = false;
    }
  }

  /**
   * How long a partial batch waits before it asks for a grant: maxWaitMs, or with a paced budget
   * (the sink's: the pace already spaces the requests, and the grant cuts the batch) only until
   * submissions pause for PACED_GATHER_MS. The sink's consumer fetches again only once a fetch's
   * events are delivered, so no company comes after that pause: waiting the whole maxWaitMs
   * delayed every fetch's request by it whenever the pace had a slot free sooner.
   */
  private async waitForCompany(lane: Lane, maxWaitMs: number): Promise<void> {
    const { clock, signal, budget } = this.caller;
    if (!budget.isPaced('events-bulk')) return clock.sleep(maxWaitMs, signal);
    const until = clock.now() + maxWaitMs;
    for (;;) {
      const quietFor = clock.now() - lane.lastAddAt;
      const left = until - clock.now();
      if (quietFor >= PACED_GATHER_MS || left <= 0) return;
      await clock.sleep(Math.min(PACED_GATHER_MS - quietFor, left), signal);
    }
  }

  /**
   * One bulk request for `items` (their keys are distinct). A non-retriable refusal names the
   * bad entries by pointer: those are rejected and the rest go again in bulk. Without a usable
   * pointer every event goes through Create Event, so exactly the bad ones are rejected. A 413
   * halves the request.
   */
  private async sendBatch(
    items: readonly PreparedEvent[],
    priority: Priority,
    granted: boolean,
    onBackoff: () => void,
  ): Promise<Map<PreparedEvent, DeliveryResult>> {
    const out = new Map<PreparedEvent, DeliveryResult>();
    let pending = [...items];
    const answerAll = (r: DeliveryResult) => {
      for (const p of pending) out.set(p, r);
      return out;
    };
    while (pending.length) {
      try {
        const body = buildBulkCreateEventsBody(pending.map((p) => p.entry));
        await this.caller.send({ group: 'events-bulk', priority, path: EVENTS_BULK_PATH, body, granted, onBackoff });
        // one time for the whole request: the outcomes of copies merged into one entry say so (the console's same_request)
        return answerAll({ status: 'delivered', requestAt: this.caller.clock.now() });
      } catch (err) {
        granted = false;
        if (err instanceof AccountUnavailableError) return answerAll(unavailable(err.reason));
        const e = recordFault(err);
        if (e.retriable) return answerAll(refusal(e));
        if (e.status === 413 && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          for (const part of [pending.slice(0, half), pending.slice(half)]) {
            for (const [k, v] of await this.sendBatch(part, priority, false, onBackoff)) out.set(k, v);
          }
          return out;
        }
        const bad = new Map<number, DeliveryError>();
        for (const obj of e.errors.length
          ? e.errors
          : [{ source: { pointer: e.pointer ?? undefined }, code: e.code, detail: e.detail }]) {
          const m = obj.source?.pointer ? BULK_ENTRY_POINTER.exec(obj.source.pointer) : null;
          const idx = m ? Number(m[1]) : -1;
          if (idx >= 0 && idx < pending.length && !bad.has(idx)) {
            bad.set(idx, {
              status: e.status,
              code: obj.code ?? e.code,
              detail: obj.detail ?? e.detail,
              pointer: obj.source!.pointer!,
              retriable: false,
            });
          }
        }
        if (bad.size === 0) {
          this.logger.warn(
            `bulk create refused without an entry pointer (${e.status} ${e.code}); sending ${pending.length} events one by one`,
          );
          await mapLimit(pending, this.singleConcurrency, async (p) => {
            out.set(
              p,
              await this.caller.deliverOne({
                group: 'events',
                priority,
                path: EVENTS_PATH,
                body: buildCreateEventBody(p.record),
                onBackoff,
              }),
            );
          });
          return out;
        }
        for (const [idx, error] of bad) out.set(pending[idx], { status: 'rejected', error });
        pending = pending.filter((_, i) => !bad.has(i));
      }
    }
    return out;
  }
}

/** Every submitter of a batch gets its slot's result (identical copies share it), or the error. */
function settle(batch: readonly BatchSlot<Submitted>[], outcome: BatchOutcome): void {
  for (const slot of batch) {
    for (const x of [slot.item, ...slot.duplicates]) {
      if ('error' in outcome) x.reject(outcome.error);
      else x.resolve(outcome.results.get(slot.item)!);
    }
  }
}

/**
 * Runs `send` once every earlier batch holding one of this batch's keys has finished, so a copy
 * deferred out of a batch reaches Klaviyo after the first copy (Klaviyo keeps the first
 * unique_id it sees), even with several bulk requests in flight.
 */
function sequenced<R>(
  inFlight: Map<string, Promise<void>>,
  batch: readonly BatchSlot<PreparedEvent>[],
  send: () => Promise<R>,
): Promise<R> {
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
