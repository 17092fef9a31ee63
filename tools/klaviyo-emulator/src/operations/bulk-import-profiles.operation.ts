import { newKlaviyoId } from '../klaviyo-emulator.store';
import { MAX_PROFILES_PER_BULK_IMPORT } from '../klaviyo-emulator.constants';
import { invalidInput } from '../klaviyo-error.util';
import { jobResource } from '../jobs/bulk-import-jobs';
import type { Operation } from './operation';
import type { BulkImportProfilesBody } from './request-bodies';
import { hasIdentifier, identifiersOf } from './profile-identifiers';

/** bulk_import_profiles → 202 with the job; "Accepts up to 10,000 profiles per request". */
export const bulkImportProfiles: Operation = ({ store, jobs, runner, now, baseUrl }, { body }) => {
  const profiles = (body as BulkImportProfilesBody).data.attributes.profiles.data;
  if (profiles.length > MAX_PROFILES_PER_BULK_IMPORT) {
    throw invalidInput(
      `Accepts up to 10,000 profiles per request; got ${profiles.length}.`,
      '/data/attributes/profiles/data',
    );
  }
  const job = jobs.create(profiles.length, now());
  runner.run(() => {
    const at = new Date(now()).toISOString();
    job.status = 'processing';
    job.started_at = at;
    profiles.forEach((p, i) => {
      if (!hasIdentifier(identifiersOf(p))) {
        job.failed_count++;
        job.errors.push({
          id: newKlaviyoId(),
          code: 'invalid',
          title: 'Invalid input.',
          detail: 'One of id, email, phone_number or external_id is required.',
          source: { pointer: `/data/attributes/profiles/data/${i}` },
          original_payload: p,
        });
        return;
      }
      job.profileIds.push(store.upsertProfile(p, at).profile.id);
      job.completed_count++;
    });
    job.status = 'complete';
    job.completed_at = new Date(now()).toISOString();
  });
  return { status: 202, body: { data: jobResource(job, baseUrl()) } };
};
