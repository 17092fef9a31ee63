import type { Operation } from './operation';

/** get_errors_for_bulk_import_profiles_job (GET .../{id}/import-errors) → 200, cursor-paged (`page[size]` 1-100, default 20). */
export const getErrorsForBulkImportProfilesJob: Operation = ({ jobs, baseUrl }, { jobId, query }) => {
  const job = jobs.get(jobId!);
  const size = Math.min(100, Math.max(1, Number(query.get('page[size]') ?? 20) || 20));
  const offset = Math.max(0, Number(query.get('page[cursor]') ?? 0) || 0);
  const page = job.errors.slice(offset, offset + size);
  const self = `${baseUrl()}/api/profile-bulk-import-jobs/${job.id}/import-errors/`;
  const links: Record<string, string> = { self };
  if (offset + size < job.errors.length) links.next = `${self}?page[cursor]=${offset + size}&page[size]=${size}`;
  return {
    status: 200,
    body: {
      data: page.map((e) => ({
        type: 'import-error',
        id: e.id,
        attributes: {
          code: e.code,
          title: e.title,
          detail: e.detail,
          source: e.source,
          original_payload: e.original_payload,
        },
      })),
      links,
    },
  };
};
