/**
 * Bulk Import Profiles (POST /api/profile-bulk-import-jobs: "up to 10,000 profiles per
 * request", 5 MB, 100 KB a profile), then GET /api/profile-bulk-import-jobs/{job_id} until the
 * job is `complete` or `cancelled`, then GET .../{id}/import-errors for the failures.
 *
 * The job reports errors per profile, not per our record, so a profile an import error points
 * at (by source.pointer index or original_payload identifiers) is sent again through Create
 * or Update Profile, whose answer is authoritative for that one record; if the errors cannot
 * be matched to profiles, every profile of the job is (upserts are idempotent).
 */
import type { KlaviyoProfileRecord } from '@iks/domain';
import { systemClock, type Clock } from '@iks/retry';
import { DELIVERED, rejected, type DeliveryResult, type Priority } from './delivery-result';
import { KlaviyoApiError } from './klaviyo-api.error';
import type { KlaviyoResponse } from './klaviyo-http.client';
import type { EndpointGroup } from './rate-budget';
import { buildBulkImportProfilesBody, sanitizeIdentifiers } from './request-builders';

export const PROFILE_BULK_IMPORT_PATH = '/api/profile-bulk-import-jobs';
export const MAX_PROFILES_PER_JOB = 10_000;

export type KlaviyoCall = (group: EndpointGroup, priority: Priority, method: 'GET' | 'POST', path: string, body?: unknown) => Promise<KlaviyoResponse>;

export interface ProfileBulkImportOptions {
  /** First poll delay; doubles up to pollMaxMs. Default 1 s. */
  readonly pollInitialMs?: number;
  readonly pollMaxMs?: number;
  /** Give up waiting for a job after this long (results: retriable rejection). Default 1 h. */
  readonly jobTimeoutMs?: number;
}

interface JobAttributes {
  readonly status: 'cancelled' | 'complete' | 'processing' | 'queued';
  readonly total_count?: number;
  readonly failed_count?: number | null;
}

interface ImportError {
  readonly attributes?: {
    readonly code?: string;
    readonly detail?: string;
    readonly source?: { readonly pointer?: string | null };
    readonly original_payload?: Record<string, any> | null;
  };
}

const PROFILE_POINTER = /^\/data\/attributes\/profiles\/data\/(\d+)(?:\/|$)/;

export class ProfileBulkImporter {
  private readonly clock: Clock;

  constructor(
    private readonly call: KlaviyoCall,
    /** Create or Update Profile for one record (the authoritative per-record answer). */
    private readonly single: (r: KlaviyoProfileRecord, priority: Priority) => Promise<DeliveryResult>,
    private readonly opts: ProfileBulkImportOptions & { clock?: Clock; signal?: AbortSignal } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  /** One job for `records` (at most one per contact, already checked locally). */
  async run(records: readonly KlaviyoProfileRecord[], priority: Priority): Promise<DeliveryResult[]> {
    let jobId: string;
    try {
      const res = await this.call('profile-bulk-import', priority, 'POST', PROFILE_BULK_IMPORT_PATH, buildBulkImportProfilesBody(records));
      jobId = (res.body as { data?: { id?: string } } | undefined)?.data?.id ?? '';
      if (!jobId) throw new KlaviyoApiError({ status: res.status, code: 'no_job_id', detail: 'bulk import accepted without a job id', retriable: false });
    } catch (err) {
      if (!(err instanceof KlaviyoApiError) || err.retriable || [401, 403, 404, 405, 415].includes(err.status ?? 0)) throw err;
      // The job itself was refused (e.g. one bad profile fails validation): per record instead.
      return this.each(records, priority);
    }
    const job = await this.waitForJob(jobId, priority);
    if (!job) {
      const error = { status: null, code: 'bulk_import_timeout', detail: `profile import job ${jobId} did not finish in time`, pointer: null, retriable: true };
      return records.map(() => rejected(error));
    }
    if (job.status === 'cancelled') return this.each(records, priority);
    if (!job.failed_count) return records.map(() => DELIVERED);
    const errors = await this.importErrors(jobId, priority);
    const suspects = matchErrors(records, errors);
    const all = suspects.size < Math.min(job.failed_count, records.length);
    const results: DeliveryResult[] = records.map(() => DELIVERED);
    const again = records.map((_, i) => i).filter((i) => all || suspects.has(i));
    const redo = await this.each(again.map((i) => records[i]), priority);
    again.forEach((i, k) => (results[i] = redo[k]));
    return results;
  }

  private async each(records: readonly KlaviyoProfileRecord[], priority: Priority): Promise<DeliveryResult[]> {
    const out: DeliveryResult[] = [];
    for (const r of records) out.push(await this.single(r, priority));
    return out;
  }

  private async waitForJob(jobId: string, priority: Priority): Promise<JobAttributes | undefined> {
    const started = this.clock.now();
    let delay = this.opts.pollInitialMs ?? 1000;
    for (;;) {
      const res = await this.call('profile-bulk-import', priority, 'GET', `${PROFILE_BULK_IMPORT_PATH}/${encodeURIComponent(jobId)}`);
      const attrs = (res.body as { data?: { attributes?: JobAttributes } } | undefined)?.data?.attributes;
      if (attrs?.status === 'complete' || attrs?.status === 'cancelled') return attrs;
      if (this.clock.now() - started + delay > (this.opts.jobTimeoutMs ?? 3600_000)) return undefined;
      await this.clock.sleep(delay, this.opts.signal);
      delay = Math.min(delay * 2, this.opts.pollMaxMs ?? 30_000);
    }
  }

  private async importErrors(jobId: string, priority: Priority): Promise<ImportError[]> {
    const out: ImportError[] = [];
    let path: string | undefined = `${PROFILE_BULK_IMPORT_PATH}/${encodeURIComponent(jobId)}/import-errors?page[size]=100`;
    while (path) {
      const res = await this.call('profile-bulk-import', priority, 'GET', path);
      const body = res.body as { data?: ImportError[]; links?: { next?: string | null } } | undefined;
      out.push(...(body?.data ?? []));
      const next = body?.links?.next;
      path = next ? pathOf(next) : undefined;
    }
    return out;
  }
}

/** Which records the import errors name: by pointer index, else by the payload's identifiers. */
function matchErrors(records: readonly KlaviyoProfileRecord[], errors: readonly ImportError[]): Set<number> {
  const out = new Set<number>();
  const ids = records.map((r) => sanitizeIdentifiers(r));
  for (const e of errors) {
    const m = e.attributes?.source?.pointer ? PROFILE_POINTER.exec(e.attributes.source.pointer) : null;
    if (m && Number(m[1]) < records.length) {
      out.add(Number(m[1]));
      continue;
    }
    const p = e.attributes?.original_payload;
    const attrs = (p?.attributes ?? p?.data?.attributes ?? p) as { email?: string; phone_number?: string } | undefined;
    if (!attrs) continue;
    ids.forEach((id, i) => {
      if ((attrs.email && id.email?.toLowerCase() === String(attrs.email).toLowerCase()) || (attrs.phone_number && id.phone_number === attrs.phone_number)) {
        out.add(i);
      }
    });
  }
  return out;
}

/** links.next is an absolute URL; the client wants the path and query. */
function pathOf(link: string): string {
  try {
    const u = new URL(link);
    return `${u.pathname}${u.search}`;
  } catch {
    return link;
  }
}
