export {
  DeliveryReadModel,
  DEFAULT_LIMITS,
  OutcomeView,
  type CopyKind,
  type DeletedPerson,
  type KindTally,
  type LetterView,
  type MetricStats,
  type PersonIds,
  type ReadModelLimits,
  type ReasonGroup,
  type RecordKindKey,
} from './read-model';
export { ReadModelFeed } from './read-model.feed';
export { GapsModel, type MetricGaps, type OutageView } from './gaps-model';
export { MinuteRing } from './minute-ring';
export { PipelineLag, type PartitionLag } from './pipeline-lag';
export { SharedAdmin } from './shared-admin';
export { SinkThrottling, sumSeries } from './sink-throttling';
export { ConsoleReadModelModule } from './console-read-model.module';
