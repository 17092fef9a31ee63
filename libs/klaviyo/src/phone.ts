/**
 * Klaviyo profile `phone_number` must be E.164 ("Individual's phone number in E.164 format",
 * contracts/klaviyo/create_or_update_profile.json): "+", country code, at most 15 digits.
 */
const E164 = /^\+[1-9]\d{6,14}$/;

export function isE164(phone: string): boolean {
  return E164.test(phone);
}

/** The phone if E.164, else undefined (so it is left out of the request). */
export function e164OrUndefined(phone: string | undefined | null): string | undefined {
  return phone && isE164(phone) ? phone : undefined;
}
