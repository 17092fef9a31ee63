export {
  CheckpointStore,
  type BackfillCheckpoint,
  type CheckpointIdentity,
  type KindProgress,
} from './backfill-checkpoint';
export { BACKFILL_KINDS, type BackfillKind, type BackfillRecord } from './backfill.types';
export { BackfillProgress, formatDuration, type ProgressStream } from './backfill-progress';
export {
  BackfillRunner,
  type BackfillResult,
  type BackfillRunOptions,
  type BackfillSink,
  type PageEvent,
} from './backfill.runner';
export { NotificationWriterSink } from './notification-writer.sink';
export { deriveNotifications, type Derivation, type DerivedNotification, type DeriveOptions } from './rest-derivation';
export { pageWithParts, withParts, type ObjectSource } from './full-object';
export { connectionSink, taggedRecord } from './connection-sink';
