import type { KlaviyoOperation } from '../klaviyo-emulator.constants';

export interface Route {
  readonly op: KlaviyoOperation;
  readonly method: 'GET' | 'POST';
  /** The operation's path in contracts/klaviyo/<op>.json. */
  readonly contractPath: string;
  readonly jobId?: string;
  /** The `{id}` of a resource path (get_metric). */
  readonly resourceId?: string;
  /** Refuse query parameters the contract does not declare, and values outside its enums (400). */
  readonly strictQuery?: boolean;
}

/** The POST paths, each its own contract path (compiled at start by the contract validator). */
export const POST_ROUTES: Readonly<Record<string, KlaviyoOperation>> = {
  '/api/event-bulk-create-jobs': 'bulk_create_events',
  '/api/events': 'create_event',
  '/api/profile-import': 'create_or_update_profile',
  '/api/profile-bulk-import-jobs': 'bulk_import_profiles',
  '/api/data-privacy-deletion-jobs': 'request_profile_deletion',
};

/** The GET collection paths. */
export const GET_ROUTES: Readonly<Record<string, KlaviyoOperation>> = {
  '/api/accounts': 'get_accounts',
  '/api/metrics': 'get_metrics',
};

const JOB_PATH = /^\/api\/profile-bulk-import-jobs\/([^/]+)(\/import-errors)?$/;
const METRIC_PATH = /^\/api\/metrics\/([^/]+)$/;

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** The operation a request names, 'method' for a known path with the wrong method, undefined for an unknown path. */
export function matchRoute(method: string, path: string): Route | 'method' | undefined {
  const op = has(POST_ROUTES, path) ? POST_ROUTES[path] : undefined;
  if (op) return method === 'POST' ? { op, method: 'POST', contractPath: path } : 'method';
  const getOp = has(GET_ROUTES, path) ? GET_ROUTES[path] : undefined;
  if (getOp) return method === 'GET' ? { op: getOp, method: 'GET', contractPath: path, strictQuery: true } : 'method';
  const metric = METRIC_PATH.exec(path);
  if (metric) {
    if (method !== 'GET') return 'method';
    return {
      op: 'get_metric',
      method: 'GET',
      contractPath: '/api/metrics/{id}',
      resourceId: decodeURIComponent(metric[1]),
      strictQuery: true,
    };
  }
  const job = JOB_PATH.exec(path);
  if (!job) return undefined;
  if (method !== 'GET') return 'method';
  const jobId = decodeURIComponent(job[1]);
  return job[2]
    ? {
        op: 'get_errors_for_bulk_import_profiles_job',
        method: 'GET',
        contractPath: '/api/profile-bulk-import-jobs/{id}/import-errors',
        jobId,
      }
    : {
        op: 'get_bulk_import_profiles_job',
        method: 'GET',
        contractPath: '/api/profile-bulk-import-jobs/{job_id}',
        jobId,
      };
}
