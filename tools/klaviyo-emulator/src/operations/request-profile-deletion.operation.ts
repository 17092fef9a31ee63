import { invalidInput } from '../klaviyo-error.util';
import type { Operation } from './operation';
import type { RequestProfileDeletionBody } from './request-bodies';

/**
 * request_profile_deletion → 202, no body: "Request a deletion for the profiles corresponding to one
 * of the following identifiers: email, phone_number, or id. If multiple identifiers are provided,
 * we will return an error."
 */
export const requestProfileDeletion: Operation = ({ store, runner, now }, { body, apiKey }) => {
  const data = (body as RequestProfileDeletionBody).data.attributes.profile.data;
  const identifier: { email?: string; phone_number?: string; id?: string } = {};
  if (data.id) identifier.id = data.id;
  if (data.attributes?.email) identifier.email = data.attributes.email;
  if (data.attributes?.phone_number) identifier.phone_number = data.attributes.phone_number;
  const count = Object.keys(identifier).length;
  if (count !== 1) {
    throw invalidInput(
      count === 0
        ? 'One of email, phone_number or id is required.'
        : 'Only one of email, phone_number or id may be provided.',
      '/data/attributes/profile/data',
    );
  }
  // "The deletion occurs asynchronously": with asyncJobs it is applied after the job delay.
  runner.run(() => store.deleteProfiles(identifier, apiKey, new Date(now()).toISOString()));
  return { status: 202 };
};
