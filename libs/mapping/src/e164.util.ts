import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/**
 * A phone number in E.164, or undefined when it cannot be made one. Klaviyo's
 * `phone_number` must be E.164 ("+" and country code): a raw or invalid number is
 * rejected or silently dropped, so MAPPING.md says omit it (and count it).
 * Numbers without "+CC" are only parsed with a configured default region.
 * Validity is libphonenumber's `isValid()` (length and number plan of the country).
 */
export function toE164(phone: unknown, region?: string): string | undefined {
  if (typeof phone !== 'string') return undefined;
  const raw = phone.trim();
  if (raw === '') return undefined;
  const country = region ? (region.toUpperCase() as CountryCode) : undefined;
  try {
    const parsed = parsePhoneNumberFromString(raw, country ? { defaultCountry: country } : undefined);
    return parsed && parsed.isValid() ? parsed.number : undefined;
  } catch {
    return undefined;
  }
}
