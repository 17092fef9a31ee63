export { TransformerRunner, ContactNotIdentifiableError, TRANSFORMER_PATTERNS, type TransformerStartOptions } from './transformer.runner';
export { isBackfill, processNotification, RECONCILE_BACKFILL_AFTER_MS, type ProcessOutcome } from './notification-processor';
