import type { KlaviyoOperation } from '../klaviyo-emulator.constants';
import { bulkCreateEvents } from './bulk-create-events.operation';
import { bulkImportProfiles } from './bulk-import-profiles.operation';
import { createEvent } from './create-event.operation';
import { createOrUpdateProfile } from './create-or-update-profile.operation';
import { getAccounts } from './get-accounts.operation';
import { getBulkImportProfilesJob } from './get-bulk-import-profiles-job.operation';
import { getErrorsForBulkImportProfilesJob } from './get-errors-for-bulk-import-profiles-job.operation';
import { getMetric } from './get-metric.operation';
import { getMetrics } from './get-metrics.operation';
import type { Operation } from './operation';
import { requestProfileDeletion } from './request-profile-deletion.operation';

/** One handler per operation in contracts/klaviyo/ (the Record type makes a missing one a compile error). */
export const OPERATIONS: Readonly<Record<KlaviyoOperation, Operation>> = {
  bulk_create_events: bulkCreateEvents,
  create_event: createEvent,
  create_or_update_profile: createOrUpdateProfile,
  bulk_import_profiles: bulkImportProfiles,
  get_bulk_import_profiles_job: getBulkImportProfilesJob,
  get_errors_for_bulk_import_profiles_job: getErrorsForBulkImportProfilesJob,
  request_profile_deletion: requestProfileDeletion,
  get_accounts: getAccounts,
  get_metrics: getMetrics,
  get_metric: getMetric,
};
