import { ManualClock } from '@iks/retry';
import type { DeliveryResult } from './delivery-result';
import {
  EventBatcher,
  isPrepared,
  MAX_STRING_BYTES,
  prepareEvent,
  type BatchSlot,
  type PreparedEvent,
} from './event-batcher';
import { BULK_ENVELOPE_BYTES, buildBulkCreateEventsBody } from './request-builders';
import { eventRecord } from './__tests__/fixtures';

function prep(over: Parameters<typeof eventRecord>[0] = {}): PreparedEvent {
  const p = prepareEvent(eventRecord(over));
  if (!isPrepared(p)) throw new Error(JSON.stringify(p));
  return p;
}

function collect(opts: ConstructorParameters<typeof EventBatcher>[1] = {}) {
  const batches: BatchSlot<PreparedEvent>[][] = [];
  const batcher = new EventBatcher<PreparedEvent>((b) => batches.push(b), { maxWaitMs: Infinity, ...opts });
  return { batcher, batches };
}

const ids = (b: BatchSlot<PreparedEvent>[]) => b.map((s) => s.item.record.unique_id);

describe('EventBatcher', () => {
  it('drain takes every pending item out in sending order (open batch with its duplicates, then deferred)', () => {
    const { batcher, batches } = collect();
    const a = prep({ unique_id: 'a' });
    const aAgain = prep({ unique_id: 'a' });
    const aChanged = prep({ unique_id: 'a', properties: { v: 2 } });
    const b = prep({ unique_id: 'b' });
    for (const x of [a, aChanged, aAgain, b]) batcher.add(x);
    expect(batcher.drain()).toEqual([a, aAgain, b, aChanged]);
    expect(batcher.pending).toBe(0);
    batcher.add(aChanged); // nothing of the drained batch is remembered
    batcher.flushAll();
    expect(batches.map(ids)).toEqual([['a']]);
  });

  it('cuts at maxCount (Klaviyo: up to 1,000 events a request)', () => {
    const { batcher, batches } = collect();
    for (let i = 0; i < 2500; i++) batcher.add(prep({ unique_id: `u${i}` }));
    expect(batches.map((b) => b.length)).toEqual([1000, 1000]);
    batcher.flushAll();
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
  });

  it('cuts before maxBytes would be passed, counting the real serialized request size', () => {
    const maxBytes = 20_000;
    const { batcher, batches } = collect({ maxBytes });
    for (let i = 0; i < 60; i++) batcher.add(prep({ unique_id: `u${i}`, properties: { blob: 'x'.repeat(1000) } }));
    batcher.flushAll();
    expect(batches.length).toBeGreaterThan(3);
    for (const b of batches) {
      const size = Buffer.byteLength(JSON.stringify(buildBulkCreateEventsBody(b.map((s) => s.item.entry))));
      expect(size).toBeLessThanOrEqual(maxBytes);
    }
    // every batch but the last was full: one more event would not have fitted
    const one = batches[0][0].item.bytes;
    for (const b of batches.slice(0, -1)) {
      const size = Buffer.byteLength(JSON.stringify(buildBulkCreateEventsBody(b.map((s) => s.item.entry))));
      expect(size + one + 1).toBeGreaterThan(maxBytes);
    }
    expect(batches.flat()).toHaveLength(60);
    expect(BULK_ENVELOPE_BYTES).toBeGreaterThan(0);
  });

  it('cuts after maxWaitMs so a lone event is not held', async () => {
    const clock = new ManualClock();
    const { batcher, batches } = collect({ clock, maxWaitMs: 250 });
    batcher.add(prep({ unique_id: 'a' }));
    await clock.advance(249);
    expect(batches).toHaveLength(0);
    batcher.add(prep({ unique_id: 'b' }));
    await clock.advance(1);
    expect(batches.map(ids)).toEqual([['a', 'b']]);
    // the timer restarts with the next batch's first event
    batcher.add(prep({ unique_id: 'c' }));
    await clock.advance(249);
    expect(batches).toHaveLength(1);
    await clock.advance(1);
    expect(batches.map(ids)).toEqual([['a', 'b'], ['c']]);
  });

  it('never puts two events with the same profile, metric and unique_id in one request; defers the second', () => {
    const { batcher, batches } = collect();
    batcher.add(prep({ unique_id: 'x', properties: { v: 1 } }));
    batcher.add(prep({ unique_id: 'y' }));
    batcher.add(prep({ unique_id: 'x', properties: { v: 2 } })); // same key, different content
    // same unique_id and metric, profile matched by phone only: same person in Klaviyo's eyes
    batcher.add(prep({ unique_id: 'x', profile: { phone_number: '+14155550123' }, properties: { v: 3 } }));
    batcher.add(prep({ unique_id: 'x', metric: 'Other Metric' })); // other metric: no conflict
    batcher.flushAll();
    expect(batches.map(ids)).toEqual([['x', 'y', 'x'], ['x'], ['x']]);
    expect(batches[1][0].item.record.properties).toEqual({ v: 2 });
    expect(batches[2][0].item.record.properties).toEqual({ v: 3 });
    for (const b of batches) {
      const keys = b.flatMap((s) => s.item.keys);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('an identical copy rides along with the first and shares its outcome (nothing lost)', () => {
    const { batcher, batches } = collect();
    batcher.add(prep({ unique_id: 'x' }));
    batcher.add(prep({ unique_id: 'x' }));
    batcher.flushAll();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(1);
    expect(batches[0][0].duplicates).toHaveLength(1);
  });

  it('refuses a record with a string over 100 KB, or no usable identifier, before batching', () => {
    const big = prepareEvent(
      eventRecord({ properties: { nested: { body: 'é'.repeat(MAX_STRING_BYTES / 2 + 1) } } }),
    ) as DeliveryResult;
    expect(big).toEqual({
      status: 'rejected',
      error: {
        status: null,
        code: 'string_too_large',
        detail: expect.any(String),
        pointer: '/properties/nested/body',
        retriable: false,
      },
    });
    expect(isPrepared(prepareEvent(eventRecord({ properties: { body: 'x'.repeat(MAX_STRING_BYTES) } })))).toBe(true);
    // the pointer names the first long string, array indices and escaped keys (RFC 6901) included
    const inArray = prepareEvent(
      eventRecord({
        properties: { short: 'é'.repeat(MAX_STRING_BYTES / 2), 'a/b~c': ['x', '€'.repeat(MAX_STRING_BYTES / 3 + 1)] },
      }),
    );
    expect(inArray).toMatchObject({ error: { code: 'string_too_large', pointer: '/properties/a~1b~0c/1' } });
    const longKey = prepareEvent(eventRecord({ properties: { ok: 1, ['k'.repeat(MAX_STRING_BYTES + 1)]: 1 } }));
    expect(longKey).toMatchObject({
      error: { code: 'string_too_large', pointer: `/properties/${'k'.repeat(MAX_STRING_BYTES + 1)}` },
    });
    expect(
      isPrepared(prepareEvent(eventRecord({ properties: { list: ['€'.repeat(MAX_STRING_BYTES / 3 - 1)] } }))),
    ).toBe(true);
    const noId = prepareEvent(eventRecord({ profile: { phone_number: '415-555-0123' } })) as DeliveryResult;
    expect(noId).toMatchObject({ status: 'rejected', error: { code: 'missing_profile_identifier', retriable: false } });
    const phoneDropped = prepareEvent(
      eventRecord({ profile: { email: 'a@example.com', phone_number: '415-555-0123' } }),
    );
    expect(isPrepared(phoneDropped) && phoneDropped.entry.attributes.profile.data.attributes).toEqual({
      email: 'a@example.com',
    });
  });
});
