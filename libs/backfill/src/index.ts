export { CheckpointStore, type BackfillCheckpoint, type CheckpointIdentity, type KindProgress } from './backfill-checkpoint';
export { BACKFILL_KINDS, backfillNotifications, type BackfillKind, type BackfillRecord } from './backfill-notifications';
export { BackfillProgress, formatDuration, type ProgressStream } from './backfill-progress';
export { BackfillRunner, type BackfillResult, type BackfillRunOptions, type BackfillSink, type PageEvent } from './backfill.runner';
export { NotificationWriterSink } from './notification-writer.sink';
