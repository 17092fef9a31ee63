export * from './records';
export { boundedKey, entityKey, isPing, parseEnvelope, validateEnvelope, type EnvelopeResult, type IntercomEnvelope } from './intercom-envelope';
export { KLAVIYO_REVISION } from './klaviyo-revision';
export { METRICS, metricName, type MetricKey } from './metrics';
