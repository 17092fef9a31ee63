import type { KlaviyoEmulatorStore, ProfileIdentifiers, ProfileInput, StoredProfile } from '../klaviyo-emulator.store';
import { invalidInput, klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';

/** The identifiers of a `{ type: 'profile', id?, attributes }` object of a request. */
export function identifiersOf(data: ProfileInput): ProfileIdentifiers {
  const a = data.attributes ?? {};
  return {
    id: data.id ?? null,
    email: a.email ?? null,
    phone_number: a.phone_number ?? null,
    external_id: a.external_id ?? null,
  };
}

export function hasIdentifier(ids: ProfileIdentifiers): boolean {
  return Boolean(ids.id || ids.email || ids.phone_number || ids.external_id);
}

/** A pragmatic address check: one "@", no spaces, a dot in the domain (Klaviyo: "Invalid email address"). */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** "Individual's phone number in E.164 format" (ProfileUpsertQueryResourceObject.phone_number). */
const E164 = /^\+[1-9]\d{1,14}$/;

/**
 * Klaviyo refuses a request whose profile carries an invalid email or a phone number not in E.164
 * with 400 `invalid` pointing at the attribute; `attributesPointer` names the profile's attributes.
 */
export function checkIdentifierFormats(ids: ProfileIdentifiers, attributesPointer: string): void {
  if (ids.email && !EMAIL.test(ids.email))
    throw invalidInput(`Invalid email address: "${ids.email}".`, `${attributesPointer}/email`);
  if (ids.phone_number && !E164.test(ids.phone_number)) {
    throw invalidInput(
      `Invalid phone number format (Example of a valid format: +12345678901): "${ids.phone_number}".`,
      `${attributesPointer}/phone_number`,
    );
  }
}

/**
 * The stored profile each identifier names; when two identifiers name two different profiles Klaviyo
 * answers 409 `duplicate_profile` with the conflicting profile's id in `meta.duplicate_profile_id`.
 */
export function checkNoConflict(store: KlaviyoEmulatorStore, ids: ProfileIdentifiers): void {
  const matched = new Map<string, StoredProfile>();
  for (const one of [
    { id: ids.id },
    { email: ids.email },
    { phone_number: ids.phone_number },
    { external_id: ids.external_id },
  ]) {
    if (!Object.values(one)[0]) continue;
    const p = store.findProfile(one);
    if (p) matched.set(p.id, p);
  }
  if (matched.size > 1) {
    const [, other] = [...matched.keys()];
    throw new KlaviyoHttpError(409, [
      {
        ...klaviyoError(
          409,
          'duplicate_profile',
          'Conflict.',
          'A profile already exists with one of these identifiers.',
          { pointer: '/data/attributes' },
        ),
        meta: { duplicate_profile_id: other },
      },
    ]);
  }
}
