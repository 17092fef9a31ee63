/**
 * The Klaviyo operations the emulator serves, with the rate limits Klaviyo documents for each.
 *
 * Limits are quoted from each operation's description in contracts/klaviyo/<operation>.json
 * (revision 2026-07-15, "*Rate limits*: Burst: `x/s` Steady: `y/m`"). Klaviyo's guide
 * "Rate limits, status codes, and errors" (developers.klaviyo.com/en/docs/rate_limits_and_error_handling)
 * says limits are per account, fixed-window, with a burst (1-second) and a steady (1-minute) window,
 * and that a private key's quota is shared per account: the emulator keys windows by API key and operation.
 */
export { KLAVIYO_REVISION } from '@iks/domain';

export type KlaviyoOperation =
  | 'bulk_create_events'
  | 'create_event'
  | 'create_or_update_profile'
  | 'bulk_import_profiles'
  | 'get_bulk_import_profiles_job'
  | 'get_errors_for_bulk_import_profiles_job'
  | 'request_profile_deletion'
  | 'get_accounts'
  | 'get_metrics'
  | 'get_metric';

export interface RateLimit {
  /** Requests allowed in one fixed 1-second window. */
  readonly burst: number;
  /** Requests allowed in one fixed 1-minute window. */
  readonly steady: number;
}

export const KLAVIYO_RATE_LIMITS: Readonly<Record<KlaviyoOperation, RateLimit>> = {
  bulk_create_events: { burst: 10, steady: 150 },
  create_event: { burst: 350, steady: 3500 },
  // The contract says 75/s and 750/m (the "L" tier of the guide says 700/m); the contract wins.
  create_or_update_profile: { burst: 75, steady: 750 },
  bulk_import_profiles: { burst: 10, steady: 150 },
  get_bulk_import_profiles_job: { burst: 10, steady: 150 },
  get_errors_for_bulk_import_profiles_job: { burst: 10, steady: 150 },
  request_profile_deletion: { burst: 3, steady: 60 },
  // The "XS" tier: a key check, not a polling endpoint.
  get_accounts: { burst: 1, steady: 15 },
  get_metrics: { burst: 10, steady: 150 },
  get_metric: { burst: 10, steady: 150 },
};

/** bulk_create_events: "Accepts up to 1,000 events per request. The maximum allowed payload size is 5MB." */
export const MAX_EVENTS_PER_BULK_REQUEST = 1000;
/** bulk_import_profiles: "Accepts up to 10,000 profiles per request." */
export const MAX_PROFILES_PER_BULK_IMPORT = 10_000;
export const MAX_PAYLOAD_BYTES = 5 * 1024 * 1024;
/** Event properties "must not exceed 400 properties". */
export const MAX_EVENT_PROPERTIES = 400;

/** get_metrics: "Returns a maximum of 200 results per page." */
export const MAX_METRICS_PER_PAGE = 200;

/**
 * Every scope an operation of Klaviyo's OpenAPI description (revision 2026-07-15, openapi/stable.json)
 * names in `x-klaviyo-scopes`: what an OAuth app may register and request.
 */
export const KLAVIYO_SCOPES: readonly string[] = [
  'accounts:read',
  'campaigns:read',
  'campaigns:write',
  'catalogs:read',
  'catalogs:write',
  'conversations:read',
  'conversations:write',
  'coupon-codes:read',
  'coupon-codes:write',
  'coupons:read',
  'coupons:write',
  'custom-objects:read',
  'custom-objects:write',
  'data-privacy:write',
  'events:read',
  'events:write',
  'flows:read',
  'flows:write',
  'forms:read',
  'forms:write',
  'images:read',
  'images:write',
  'lists:read',
  'lists:write',
  'metrics:read',
  'metrics:write',
  'profiles:read',
  'profiles:write',
  'push-tokens:read',
  'push-tokens:write',
  'reviews:read',
  'reviews:write',
  'segments:read',
  'segments:write',
  'subscriptions:read',
  'subscriptions:write',
  'tags:read',
  'tags:write',
  'templates:read',
  'templates:write',
  'tracking-settings:read',
  'tracking-settings:write',
  'web-feeds:read',
  'web-feeds:write',
  'webhooks:read',
  'webhooks:write',
];

/** Access tokens live one hour (`expires_in: 3600`), as Klaviyo issues them; see the README for the source. */
export const OAUTH_ACCESS_TOKEN_TTL_MS = 3600 * 1000;
/** RFC 6749 4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED." */
export const OAUTH_CODE_TTL_MS = 10 * 60 * 1000;
/** A refresh token not used for 90 days expires. */
export const OAUTH_REFRESH_IDLE_TTL_MS = 90 * 24 * 3600 * 1000;
