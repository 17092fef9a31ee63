export { TransformerRunner, ContactNotIdentifiableError } from './transformer.runner';
export { processNotification, type ProcessOutcome } from './notification-processor';
