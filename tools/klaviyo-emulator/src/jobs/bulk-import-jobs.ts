import { klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import { newKlaviyoId } from '../klaviyo-emulator.store';

export interface ImportError {
  readonly id: string;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly source: { readonly pointer: string };
  readonly original_payload: unknown;
}

export interface BulkJob {
  readonly id: string;
  status: 'queued' | 'processing' | 'complete' | 'cancelled';
  readonly created_at: string;
  readonly total_count: number;
  completed_count: number;
  failed_count: number;
  started_at: string | null;
  completed_at: string | null;
  readonly expires_at: string;
  readonly errors: ImportError[];
  readonly profileIds: string[];
}

const JOB_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** The profile-bulk-import-jobs the account has started, by id. */
export class BulkImportJobs {
  private readonly jobs = new Map<string, BulkJob>();

  create(total: number, createdMs: number): BulkJob {
    const job: BulkJob = {
      id: newKlaviyoId(),
      status: 'queued',
      created_at: new Date(createdMs).toISOString(),
      total_count: total,
      completed_count: 0,
      failed_count: 0,
      started_at: null,
      completed_at: null,
      expires_at: new Date(createdMs + JOB_RETENTION_MS).toISOString(),
      errors: [],
      profileIds: [],
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** The job, or 404 as Klaviyo answers for an unknown id. */
  get(id: string): BulkJob {
    const job = this.jobs.get(id);
    if (!job)
      throw new KlaviyoHttpError(404, [
        klaviyoError(404, 'not_found', 'Not found.', `No profile-bulk-import-job with id ${id}.`),
      ]);
    return job;
  }

  clear(): void {
    this.jobs.clear();
  }
}

/** The job as get_bulk_import_profiles_job / bulk_import_profiles return it. */
export function jobResource(job: BulkJob, baseUrl: string): Record<string, unknown> {
  return {
    type: 'profile-bulk-import-job',
    id: job.id,
    attributes: {
      status: job.status,
      created_at: job.created_at,
      total_count: job.total_count,
      completed_count: job.completed_count,
      failed_count: job.failed_count,
      completed_at: job.completed_at,
      expires_at: job.expires_at,
      started_at: job.started_at,
    },
    links: { self: `${baseUrl}/api/profile-bulk-import-jobs/${job.id}/` },
  };
}
