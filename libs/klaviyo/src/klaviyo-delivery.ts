/**
 * The sink's Klaviyo port: records in, one DeliveryResult per record out. Delivered means
 * Klaviyo accepted it (202/200/201); rejected means it never will be (the sink dead-letters
 * it), or, with `error.retriable`, that Klaviyo kept failing for the whole retry budget.
 * A refused API key (401/403) is waited out, not rejected (klaviyo-caller.ts); a wrong URL or
 * media type (404/405/415) is thrown, so the sink stops before it commits.
 */
import { KlaviyoCaller, type KlaviyoCallerOptions } from './klaviyo-caller';
import { KlaviyoDeletionDeliverer } from './deletion-deliverer';
import { KlaviyoEventStream, type KlaviyoEventStreamOptions } from './event-stream';
import { KlaviyoProfileDeliverer } from './profile-deliverer';

export interface KlaviyoDeliveryOptions extends KlaviyoCallerOptions, KlaviyoEventStreamOptions {}

export interface KlaviyoDelivery {
  /** Budget, retry and the refused-key alert, shared by the three below. */
  readonly caller: KlaviyoCaller;
  readonly events: KlaviyoEventStream;
  readonly profiles: KlaviyoProfileDeliverer;
  readonly deletions: KlaviyoDeletionDeliverer;
}

export function createKlaviyoDelivery(opts: KlaviyoDeliveryOptions): KlaviyoDelivery {
  const caller = new KlaviyoCaller(opts);
  return {
    caller,
    events: new KlaviyoEventStream(caller, opts),
    profiles: new KlaviyoProfileDeliverer(caller, opts.singleConcurrency),
    deletions: new KlaviyoDeletionDeliverer(caller, opts.singleConcurrency),
  };
}
