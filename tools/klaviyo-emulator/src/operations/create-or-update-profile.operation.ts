import { invalidInput } from '../klaviyo-error.util';
import type { Operation } from './operation';
import type { CreateOrUpdateProfileBody } from './request-bodies';
import { checkIdentifierFormats, checkNoConflict, hasIdentifier, identifiersOf } from './profile-identifiers';
import { profileResource } from './profile-resource';

/** create_or_update_profile: "Returns 201 if a new profile was created, 200 if an existing profile was updated." */
export const createOrUpdateProfile: Operation = ({ store, now, baseUrl }, { body }) => {
  const data = (body as CreateOrUpdateProfileBody).data;
  const ids = identifiersOf(data);
  if (!hasIdentifier(ids)) {
    throw invalidInput('One of id, email, phone_number or external_id is required.', '/data/attributes');
  }
  checkIdentifierFormats(ids, '/data/attributes');
  checkNoConflict(store, ids);
  const { profile, created } = store.upsertProfile(data, new Date(now()).toISOString());
  return { status: created ? 201 : 200, body: { data: profileResource(profile, baseUrl()) } };
};
