import { jobResource } from '../jobs/bulk-import-jobs';
import type { Operation } from './operation';

/** get_bulk_import_profiles_job (GET /api/profile-bulk-import-jobs/{job_id}) → 200 with the job, 404 if unknown. */
export const getBulkImportProfilesJob: Operation = ({ jobs, baseUrl }, { jobId }) => ({
  status: 200,
  body: {
    data: jobResource(jobs.get(jobId!), baseUrl()),
    links: { self: `${baseUrl()}/api/profile-bulk-import-jobs/${jobId}/` },
  },
});
