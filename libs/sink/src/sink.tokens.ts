/** What this sink delivers (SinkStageModule's `run`): the live sink by default, a replay's own group. */
export const SINK_RUN = Symbol('SINK_RUN');
/** Aborted when the sink stops: waits for budget or retries end at once. */
export const SINK_ABORT = Symbol('SINK_ABORT');
