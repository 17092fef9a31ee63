import { FixedWindowRateLimiter } from '../fixed-window-rate-limiter';
import { KLAVIYO_RATE_LIMITS, type KlaviyoOperation, type RateLimit } from '../klaviyo-emulator.constants';
import { klaviyoError, KlaviyoHttpError, type KlaviyoErrorBody } from '../klaviyo-error.util';

const OPERATIONS = Object.keys(KLAVIYO_RATE_LIMITS) as KlaviyoOperation[];

/** Klaviyo's 429 body: "Request was throttled. Expected available in N seconds." */
export function throttledBody(retryAfterSeconds: number): KlaviyoErrorBody {
  return {
    errors: [
      klaviyoError(
        429,
        'throttled',
        'Request was throttled.',
        `Request was throttled. Expected available in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`,
      ),
    ],
  };
}

/** The documented per-account, per-operation burst/steady limits (with overrides), switchable at run time. */
export class ApiRateLimits {
  enabled: boolean;
  readonly limits: Record<KlaviyoOperation, RateLimit>;
  private readonly limiter: FixedWindowRateLimiter;

  constructor(
    now: () => number,
    enabled: boolean,
    overrides: Partial<Record<KlaviyoOperation, Partial<RateLimit>>> = {},
  ) {
    this.enabled = enabled;
    this.limiter = new FixedWindowRateLimiter(now);
    this.limits = { ...KLAVIYO_RATE_LIMITS };
    for (const op of OPERATIONS) {
      const o = overrides[op];
      if (o) this.limits[op] = { ...this.limits[op], ...o };
    }
  }

  /**
   * Uses one request of `apiKey`'s quota for `op`; returns the RateLimit-* headers, or throws 429.
   * "the RateLimit-Limit, RateLimit-Remaining, and RateLimit-Reset headers are not returned when you
   * actually hit a HTTP 429 error ... those headers are replaced with a Retry-After header".
   */
  take(apiKey: string, op: KlaviyoOperation): Record<string, string> {
    if (!this.enabled) return {};
    const d = this.limiter.take(`${apiKey}\u0000${op}`, this.limits[op]);
    if (!d.allowed)
      throw new KlaviyoHttpError(429, throttledBody(d.retryAfterSeconds).errors, {
        'Retry-After': String(d.retryAfterSeconds),
      });
    return {
      'RateLimit-Limit': String(d.limit),
      'RateLimit-Remaining': String(d.remaining),
      'RateLimit-Reset': String(d.resetSeconds),
    };
  }

  reset(): void {
    this.limiter.reset();
  }
}
