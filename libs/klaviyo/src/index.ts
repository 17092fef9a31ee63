export { KlaviyoApiError, type KlaviyoErrorObject } from './klaviyo-api.error';
export {
  KlaviyoHttpClient,
  KLAVIYO_BASE_URL,
  parseRetryAfter,
  type KlaviyoHttpClientOptions,
  type KlaviyoRateLimitState,
  type KlaviyoResponse,
  type RequestOptions,
} from './klaviyo-http.client';
export {
  buildBulkCreateEventsBody,
  buildBulkEventEntry,
  buildBulkImportProfilesBody,
  buildCreateEventBody,
  buildProfileAttributes,
  buildProfileDeletionBody,
  buildProfileImportBody,
  deletionIdentifier,
  sanitizeIdentifiers,
  type BulkEventEntry,
  type DeletionIdentifier,
} from './request-builders';
export { isE164 } from './phone';
export { RateBudget, KLAVIYO_RATE_LIMITS, type EndpointGroup, type RateBudgetOptions, type WindowLimits } from './rate-budget';
export {
  EventBatcher,
  prepareEvent,
  isPrepared,
  DEFAULT_MAX_BULK_BYTES,
  DEFAULT_MAX_WAIT_MS,
  MAX_EVENTS_PER_BULK,
  MAX_STRING_BYTES,
  type BatchItem,
  type BatchSlot,
  type EventBatcherOptions,
  type PreparedEvent,
} from './event-batcher';
export { KlaviyoDeliverer, type KlaviyoDelivererOptions, type DeliveryRetryOptions } from './klaviyo-deliverer';
export { DELIVERED, type DeliveryError, type DeliveryResult, type Priority } from './delivery-result';
export { ProfileBulkImporter, MAX_PROFILES_PER_JOB, type ProfileBulkImportOptions } from './profile-bulk-import';
