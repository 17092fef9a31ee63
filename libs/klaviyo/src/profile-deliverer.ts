/**
 * Profile upserts through Create or Update Profile (POST /api/profile-import), in order per Intercom
 * contact.
 *
 * Identifier conflicts: when the email names one profile and the phone number another, Klaviyo
 * answers 409 `duplicate_profile` ("A profile already exists with one of these identifiers.",
 * `meta.duplicate_profile_id` = the profile holding the identifier that cannot be added) and changes
 * nothing. The upsert is sent again without the phone number: the email, Klaviyo's primary identifier
 * and carried by the person's events too, names the person's profile, so profile and events stay
 * together (README, "Identifier conflicts"). The phone stays with the profile that holds it; the
 * record is delivered with the note `identifier_conflict_phone_dropped` (counted by the stage).
 */
import type { KlaviyoProfileRecord } from '@iks/domain';
import { localRejection, type DeliveryResult, type Priority } from './delivery-result';
import type { KlaviyoCaller } from './klaviyo-caller';
import { mapLimit } from './map-limit';
import { buildProfileImportBody, hasIdentifier, sanitizeIdentifiers } from './request-builders';

export const PROFILE_IMPORT_PATH = '/api/profile-import';
/** "The maximum allowed payload size is 100KB." (create_or_update_profile) */
export const MAX_PROFILE_IMPORT_BYTES = 100 * 1024;
/** The note of a profile delivered without its phone number because another profile holds that number. */
export const PHONE_DROPPED_NOTE = 'identifier_conflict_phone_dropped';

export class KlaviyoProfileDeliverer {
  constructor(
    private readonly caller: KlaviyoCaller,
    /** Contacts upserted at once (one contact's upserts go one after the other). Default 8. */
    private readonly concurrency = 8,
  ) {}

  /** One result per record, in input order. */
  async deliver(records: readonly KlaviyoProfileRecord[], priority: Priority = 'live'): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(records.length);
    const byContact = new Map<string, number[]>();
    records.forEach((r, i) => {
      const key = r.intercom_contact_id ?? `#${i}`;
      byContact.set(key, [...(byContact.get(key) ?? []), i]);
    });
    await mapLimit([...byContact.values()], this.concurrency, async (indexes) => {
      let held: DeliveryResult | undefined;
      for (const i of indexes) {
        const r = records[i];
        // once one upsert of the contact could not go (its account's circuit opened), the later
        // ones wait with it: parked in order, never sent ahead of it
        results[i] = held ?? checkProfile(r) ?? (await this.upsert(r, priority));
        if (results[i].status === 'unavailable') held = results[i];
      }
    });
    return results;
  }

  private async upsert(r: KlaviyoProfileRecord, priority: Priority): Promise<DeliveryResult> {
    const send = (p: KlaviyoProfileRecord) =>
      this.caller.deliverOne({
        group: 'profile-import',
        priority,
        path: PROFILE_IMPORT_PATH,
        body: buildProfileImportBody(p),
      });
    const first = await send(r);
    const ids = sanitizeIdentifiers(r);
    const conflict =
      first.status === 'rejected' && first.error.status === 409 && first.error.code === 'duplicate_profile';
    if (!conflict || !ids.email || !ids.phone_number) return first;
    const again = await send({ ...r, phone_number: undefined });
    return again.status === 'delivered' ? { status: 'delivered', notes: [PHONE_DROPPED_NOTE] } : again;
  }
}

/** Why a profile can never be upserted, or undefined. */
function checkProfile(r: KlaviyoProfileRecord): DeliveryResult | undefined {
  if (!hasIdentifier(sanitizeIdentifiers(r))) {
    return localRejection('missing_profile_identifier', 'profile has no email and no E.164 phone_number', null);
  }
  const bytes = Buffer.byteLength(JSON.stringify(buildProfileImportBody(r)));
  if (bytes > MAX_PROFILE_IMPORT_BYTES)
    return localRejection('payload_too_large', `profile is ${bytes} bytes, over Klaviyo's 100 KB`, null);
  return undefined;
}
