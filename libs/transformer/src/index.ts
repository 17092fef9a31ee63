export {
  TransformerRunner,
  ContactNotIdentifiableError,
  TRANSFORMER_RUN,
  type TransformerStartOptions,
} from './transformer.runner';
export {
  TransformerStageModule,
  INTERCOM_SOURCE,
  transformerContext,
  createTransformerRunner,
  type TransformerStageOptions,
} from './transformer-stage.module';
export {
  isBackfill,
  processNotification,
  RECONCILE_BACKFILL_AFTER_MS,
  type ProcessOutcome,
} from './notification-processor';
