export { TransformerRunner, ContactNotIdentifiableError, TRANSFORMER_PATTERNS, type TransformerStartOptions } from './transformer.runner';
export { processNotification, type ProcessOutcome } from './notification-processor';
