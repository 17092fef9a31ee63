export { CheckpointStore, type BackfillCheckpoint, type CheckpointIdentity, type KindProgress } from './backfill-checkpoint';
export { BACKFILL_KINDS, backfillNotifications, type BackfillKind, type BackfillRecord } from './backfill-notifications';
export { BackfillProgress, formatDuration, type ProgressStream } from './backfill-progress';
export { BackfillRunner, type BackfillResult, type BackfillRunOptions, type BackfillSink, type PageEvent } from './backfill.runner';
export { NotificationWriterSink } from './notification-writer.sink';
export { deriveNotifications, type Derivation, type DerivedNotification, type DeriveOptions } from './rest-derivation';
export { pageWithParts, withParts, type ObjectSource } from './full-object';
export { ProducedIndex } from './produced-index';
export { reconcile, formatReport, READ_CONVERSATION_NOTE, type ReconcileOptions, type ReconcileReport, type ReconcileRow } from './reconciler';
