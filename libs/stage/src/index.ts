export type {
  RecordOutcome,
  OutcomeKind,
  ProducedRecord,
  StageRecord,
  StageBatch,
  StageResult,
  StageHandler,
  TopicHandler,
  StageTopic,
  AnyStageTopic,
  StageConsumerSpec,
  OutcomeSubject,
  StageName,
  HandlerLookup,
} from './stage.types';
export { OutcomePublisher, type DescribeRecord } from './outcome-publisher';
export { StageConsumer, type ConsumerHealth } from './stage-consumer';
export { StageRuntime, type StageHealth, type StageRuntimeOptions } from './stage-runtime';
export { StageTally, metricOnce } from './stage-metrics';
export { StageServer, type StageLifecycle } from './stage.server';
export { isTransientError } from './transient-error';
export { OnTopic } from './on-topic.decorator';
export { StageHandlers, StageWiringError, handlersOf } from './stage-handlers';
export { StageModule, type StageModuleOptions } from './stage.module';
