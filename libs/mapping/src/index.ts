// Public API of @iks/mapping: Intercom notification → Klaviyo records (pure, no I/O).
export type { IntercomNotificationInput, Lookups, MappingOptions, MapOutcome, RequiredLookups } from './mapping.types';
export { isMappedTopic, mapNotification } from './notification.mapper';
export { requiredLookups } from './required-lookups.util';
export { mapContactToProfile, splitName, type ProfileMeta } from './contact-profile.mapper';
export { MappingError, type MappingErrorCode } from './mapping.error';
export { METRICS, metricName, type MetricKey } from '@iks/domain';
export { toIso8601, toUnixSeconds } from './iso-time.util';
export { toE164 } from './e164.util';
export { staticLookups } from './static-lookups.adapter';
export { notificationItem } from './notification-item.util';
export { ticketStateCategory } from './ticket-state.util';
export { isContactTopic } from './contact-topic.mapper';
export { CONVERSATION_TOPICS } from './conversation-event.mapper';
export { TICKET_TOPICS } from './ticket-event.mapper';
export { exampleRecords, EXAMPLE_CONTACT_ID, EXAMPLE_EMAIL } from './examples';
