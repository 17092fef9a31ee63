/** What this sink delivers (SinkStageModule's `run`): the live sink by default, a replay's own group. */
export const SINK_RUN = Symbol('SINK_RUN');
/** The account's rate budget (one per process: every topic's deliveries share it). */
export const RATE_BUDGET = Symbol('RATE_BUDGET');
/** Klaviyo delivery (caller with budget and retry, event stream, profile and deletion deliverers). */
export const KLAVIYO_DELIVERY = Symbol('KLAVIYO_DELIVERY');
/** Aborted when the sink stops: waits for budget or retries end at once. */
export const SINK_ABORT = Symbol('SINK_ABORT');
