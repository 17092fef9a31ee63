import type { ProfileIdentifiers } from '../klaviyo-emulator.store';

/** The identifiers of a `{ type: 'profile', id?, attributes }` object of a request. */
export function identifiersOf(data: any): ProfileIdentifiers {
  const a = data.attributes ?? {};
  return { id: data.id ?? null, email: a.email ?? null, phone_number: a.phone_number ?? null, external_id: a.external_id ?? null };
}

export function hasIdentifier(ids: ProfileIdentifiers): boolean {
  return Boolean(ids.id || ids.email || ids.phone_number || ids.external_id);
}
