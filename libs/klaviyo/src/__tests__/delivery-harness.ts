/** Given a fresh Klaviyo test double per test: a delivery against it, and every request checked against contracts/klaviyo. */
import { Logger } from '@nestjs/common';
import type { KlaviyoEventRecord } from '@iks/domain';
import type { DeliveryResult, Priority } from '../delivery-result';
import { KlaviyoHttpClient } from '../klaviyo-http.client';
import { createKlaviyoDelivery, type KlaviyoDelivery, type KlaviyoDeliveryOptions } from '../klaviyo-delivery';
import {
  KlaviyoTestDouble,
  type BulkCreateEventsBody,
  type ProfileDeletionBody,
  type ProfileImportBody,
  type RecordedRequest,
} from './klaviyo-test-double';

export const KEY = 'pk_deliverer_secret';

export const bulkEntries = (r: RecordedRequest) =>
  (r.body as BulkCreateEventsBody).data.attributes['events-bulk-create'].data;
export const profileImportAttributes = (r: RecordedRequest) => (r.body as ProfileImportBody).data.attributes;
export const deletionProfile = (r: RecordedRequest) => (r.body as ProfileDeletionBody).data.attributes.profile.data;
export const uniqueIds = (r: RecordedRequest) =>
  bulkEntries(r).map((e) => e.attributes.events.data[0].attributes.unique_id);

export interface Harness {
  readonly klaviyo: KlaviyoTestDouble;
  delivery(opts?: Partial<KlaviyoDeliveryOptions>): KlaviyoDelivery;
}

export function klaviyoHarness(): Harness {
  let klaviyo: KlaviyoTestDouble;
  let baseUrl: string;
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    klaviyo = new KlaviyoTestDouble();
    baseUrl = await klaviyo.start();
  });
  afterEach(async () => {
    // every request the delivery made was valid against contracts/klaviyo
    for (const r of klaviyo.requests)
      expect({ path: r.path, errors: r.contractErrors }).toEqual({ path: r.path, errors: [] });
    await klaviyo.stop();
  });
  return {
    get klaviyo() {
      return klaviyo;
    },
    delivery: (opts = {}) =>
      createKlaviyoDelivery({
        client: new KlaviyoHttpClient({ apiKey: KEY, baseUrl, timeoutMs: 2000 }),
        retry: { initialMs: 5, maxDelayMs: 20, maxElapsedMs: 5000 },
        batch: { maxWaitMs: 0 },
        ...opts,
      }),
  };
}

/** Submits every record at once (as the sink does for a fetched batch): one result per record, in order. */
export function submitAll(
  d: KlaviyoDelivery,
  records: readonly KlaviyoEventRecord[],
  priority: Priority = 'live',
): Promise<DeliveryResult[]> {
  return Promise.all(records.map((r) => d.events.submit(r, priority)));
}
