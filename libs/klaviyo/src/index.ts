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
export {
  RateBudget,
  KLAVIYO_RATE_LIMITS,
  type EndpointGroup,
  type RateBudgetOptions,
  type WindowLimits,
} from './rate-budget';
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
export { createKlaviyoDelivery, type KlaviyoDelivery, type KlaviyoDeliveryOptions } from './klaviyo-delivery';
export {
  KlaviyoCaller,
  type KlaviyoCallerOptions,
  type KlaviyoRequest,
  type DeliveryRetryOptions,
} from './klaviyo-caller';
export { KlaviyoEventStream, EVENTS_BULK_PATH, EVENTS_PATH, type KlaviyoEventStreamOptions } from './event-stream';
export {
  KlaviyoProfileDeliverer,
  PROFILE_IMPORT_PATH,
  MAX_PROFILE_IMPORT_BYTES,
  PHONE_DROPPED_NOTE,
} from './profile-deliverer';
export { KlaviyoDeletionDeliverer, DELETION_PATH } from './deletion-deliverer';
export { DELIVERED, unavailable, type DeliveryError, type DeliveryResult, type Priority } from './delivery-result';
export {
  AccountCircuit,
  AccountUnavailableError,
  KEY_REFUSED_STATUSES,
  type AccountCircuitOptions,
  type CircuitFailure,
  type CircuitState,
} from './account-circuit';
