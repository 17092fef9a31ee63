/**
 * kafkajs 2.2.4 (its last release) keeps every broker connection's request queue busy when
 * there is nothing to do: `RequestQueue.scheduleCheckPendingRequests` sets a timer even with no
 * pending request, at `throttledUntil - Date.now()` ms, which is negative when no throttle is in
 * force (`throttledUntil` starts at -1), so Node runs it after 1 ms; the timer calls
 * `checkPendingRequests`, which schedules the next one. From the first answer on, each connection
 * wakes its process a thousand times a second, for ever (kafkajs issues #1556 and #1704, open pull
 * requests #1667 and #1768): about 30 of an idle app's 40 CPU-ms/s on the CI machine.
 *
 * The fix here is the one those pull requests make: nothing pending, nothing to schedule. A
 * request becomes pending only in `push` (in-flight limit reached or throttled), which schedules
 * the check itself; a check that leaves requests pending schedules the next as before (after the
 * throttle, or 10 ms). Applied once, when this module is first loaded (by kafka-client.ts, which
 * every Kafka client of ours is created with).
 */
import { createRequire } from 'node:module';

interface RequestQueueLike {
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
}

const PATCHED = Symbol.for('iks.kafkajs.requestQueueIdleFix');

/** kafkajs' RequestQueue class (not exported from its entry point: its source file, as kafkajs ships it). */
export function requestQueueClass(): { prototype: RequestQueueLike } {
  const requireFromKafkajs = createRequire(require.resolve('kafkajs'));
  return requireFromKafkajs('./src/network/requestQueue/index.js') as { prototype: RequestQueueLike };
}

/** Idempotent; returns whether the prototype is patched (false if kafkajs changed shape: then it is left alone). */
export function applyRequestQueueIdleFix(): boolean {
  const proto = requestQueueClass().prototype as RequestQueueLike & { [PATCHED]?: true };
  if (proto[PATCHED]) return true;
  const original = proto.scheduleCheckPendingRequests;
  if (typeof original !== 'function') return false;
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueLike): void {
    if (this.pending.length === 0) return;
    original.call(this);
  };
  proto[PATCHED] = true;
  return true;
}

applyRequestQueueIdleFix();
