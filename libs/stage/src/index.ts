export type {
  RecordOutcome, OutcomeKind, ProducedRecord, StageBatch, StageResult, StageHandler, StageConsumerSpec, OutcomeSubject, StageName, HandlerLookup,
} from './stage.types';
export { OutcomePublisher, type DescribeRecord } from './outcome-publisher';
export { StageConsumer, type ConsumerHealth } from './stage-consumer';
export { StageRuntime, type StageHealth, type StageRuntimeOptions } from './stage-runtime';
export { StageTally, metricOnce } from './stage-metrics';
export { StageServer, StageErrorPassThrough, type StageLifecycle } from './stage.server';
export { isTransientError } from './transient-error';
