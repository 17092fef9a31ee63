export { KlaviyoEmulator, startKlaviyoEmulator, type KlaviyoEmulatorOptions } from './klaviyo-emulator.server';
export {
  KlaviyoEmulatorFaults,
  type EventFaultView,
  type EventMatcher,
  type FaultRequest,
} from './klaviyo-emulator.faults';
export {
  KlaviyoEmulatorStore,
  type StoredEvent,
  type StoredMetric,
  type StoredProfile,
  type DeletionRequest,
  type RequestLogEntry,
} from './klaviyo-emulator.store';
export {
  KLAVIYO_RATE_LIMITS,
  KLAVIYO_REVISION,
  type KlaviyoOperation,
  type RateLimit,
} from './klaviyo-emulator.constants';
export type { KlaviyoErrorBody, KlaviyoErrorObject } from './klaviyo-error.util';
export { AccountRegistry, DEFAULT_ACCOUNT_ID } from './accounts/account-registry';
export { EmulatedAccount, type AccountOptions, type AccountAttributes } from './accounts/emulated-account';
export { OAuthApps, type OAuthApp, type OAuthAppOptions } from './oauth/oauth-apps';
export { OAuthGrants, type TokenResponse, type OAuthLifetimes } from './oauth/oauth-grants';
export { API_INTEGRATION, type MetricIntegration } from './metric-integration';
