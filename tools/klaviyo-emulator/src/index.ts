export { KlaviyoEmulator, startKlaviyoEmulator, type KlaviyoEmulatorOptions } from './klaviyo-emulator.server';
export { KlaviyoEmulatorFaults, type EventFaultView, type EventMatcher, type FaultRequest } from './klaviyo-emulator.faults';
export {
  KlaviyoEmulatorStore,
  type StoredEvent,
  type StoredMetric,
  type StoredProfile,
  type DeletionRequest,
  type RequestLogEntry,
} from './klaviyo-emulator.store';
export { KLAVIYO_RATE_LIMITS, KLAVIYO_REVISION, type KlaviyoOperation, type RateLimit } from './klaviyo-emulator.constants';
export type { KlaviyoErrorBody, KlaviyoErrorObject } from './klaviyo-error.util';
