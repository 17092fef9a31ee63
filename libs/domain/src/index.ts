export {
  connectionOf,
  connectionOfKey,
  connectionKey,
  withConnectionId,
  CONNECTION_ID_PATTERN,
  DEFAULT_CONNECTION_ID,
  type ContactSnapshot,
  type DeadLetter,
  type DeliveryOutcome,
  type DeliveryOutcomeKind,
  type KlaviyoDeletionRecord,
  type KlaviyoEventRecord,
  type KlaviyoProfileRecord,
  type KlaviyoRecord,
  type NotificationSource,
  type PipelineOutage,
  type ProfileIdentifiers,
  type ProfileLocation,
  type RawNotification,
  type ReconcileReportRecord,
} from './records';
export {
  boundedKey,
  entityKey,
  isPing,
  parseEnvelope,
  parseWebhook,
  parseWebhookText,
  validateEnvelope,
  type EnvelopeResult,
  type IntercomEnvelope,
  type IntercomPing,
  type WebhookBody,
} from './intercom-envelope';
export { contactIdsIn, contactIdsInText, PERSON_TYPES } from './intercom-subjects';
export { KLAVIYO_REVISION } from './klaviyo-revision';
export { METRICS, metricName, type MetricKey } from './metrics';
