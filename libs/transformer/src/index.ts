export {
  TransformerRunner,
  ContactNotIdentifiableError,
  UnknownConnectionError,
  CONNECTION_INTERCOM_SOURCE,
  TRANSFORMER_RUN,
  type ConnectionIntercomSource,
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
