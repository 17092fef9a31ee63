export * from './records';
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
export { KLAVIYO_REVISION } from './klaviyo-revision';
export { METRICS, metricName, type MetricKey } from './metrics';
