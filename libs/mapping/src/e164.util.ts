import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/**
 * How many (number, region) answers toE164 keeps. Parsing and validating with libphonenumber
 * costs tens of microseconds; the same contact's number is mapped on every event of theirs, so
 * a bounded memo saves most of it. Entries hold two short strings each (about 100 bytes).
 */
export const E164_CACHE_ENTRIES = 10_000;

/** Least recently used out first: a Map keeps insertion order, a hit moves its key to the end. */
const answers = new Map<string, string | undefined>();

/**
 * A phone number in E.164, or undefined when it cannot be made one. Klaviyo's
 * `phone_number` must be E.164 ("+" and country code): a raw or invalid number is
 * rejected or silently dropped, so MAPPING.md says omit it (and count it).
 * Numbers without "+CC" are only parsed with a configured default region.
 * Validity is libphonenumber's `isValid()` (length and number plan of the country).
 * Answers are memoised per (trimmed number, region), at most E164_CACHE_ENTRIES of them.
 */
export function toE164(phone: unknown, region?: string): string | undefined {
  if (typeof phone !== 'string') return undefined;
  const raw = phone.trim();
  if (raw === '') return undefined;
  const country = region ? (region.toUpperCase() as CountryCode) : undefined;
  const key = country ? `${country}:${raw}` : raw;
  if (answers.has(key)) {
    const hit = answers.get(key);
    answers.delete(key);
    answers.set(key, hit);
    return hit;
  }
  const answer = parseE164(raw, country);
  if (answers.size >= E164_CACHE_ENTRIES) answers.delete(answers.keys().next().value as string);
  answers.set(key, answer);
  return answer;
}

function parseE164(raw: string, country: CountryCode | undefined): string | undefined {
  try {
    const parsed = parsePhoneNumberFromString(raw, country ? { defaultCountry: country } : undefined);
    return parsed && parsed.isValid() ? parsed.number : undefined;
  } catch {
    return undefined;
  }
}
