import { invalidInput } from '../klaviyo-error.util';
import { toEventInput } from './event-input';
import type { Operation } from './operation';
import type { CreateEventBody } from './request-bodies';
import { checkIdentifierFormats, identifiersOf } from './profile-identifiers';

/**
 * create_event (POST /api/events) → 202, no body; a repeated unique_id: "only the first processed event
 * will be recorded". "Successful response indicates that the event was validated and submitted for
 * processing": identifiers naming two profiles are no 409 here; the event goes to the profile matched
 * first and the other identifier stays with its holder (store.upsertProfile).
 */
export const createEvent: Operation = ({ store, faults, now }, { body, apiKey, integration }) => {
  const attrs = (body as CreateEventBody).data.attributes;
  const pdata = attrs.profile.data;
  const ids = identifiersOf(pdata);
  if (!store.profileKey(ids)) {
    throw invalidInput(
      'A profile identifier (id, email, phone_number or external_id) is required.',
      '/data/attributes/profile/data/attributes',
    );
  }
  checkIdentifierFormats(ids, '/data/attributes/profile/data/attributes');
  const e = toEventInput(attrs, undefined, '/data', now(), ids, faults);
  const at = new Date(now()).toISOString();
  const { profile } = store.upsertProfile(pdata, at);
  store.addEvent(profile, ids, e, 'create_event', apiKey, at, integration);
  return { status: 202, events: 1 };
};
