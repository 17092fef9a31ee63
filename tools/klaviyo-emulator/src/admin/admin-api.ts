import type { ServerResponse } from 'node:http';
import { send } from '../http/http-io';
import type { ApiRateLimits } from '../http/rate-limits';
import type { FaultRequest, KlaviyoEmulatorFaults } from '../klaviyo-emulator.faults';
import type { KlaviyoEmulatorStore } from '../klaviyo-emulator.store';
import { klaviyoError } from '../klaviyo-error.util';

/** What the admin API reads and drives. */
export interface AdminTarget {
  readonly store: KlaviyoEmulatorStore;
  readonly faults: KlaviyoEmulatorFaults;
  readonly limits: ApiRateLimits;
  stats(): Record<string, unknown>;
  reset(): void;
}

function jsonOrEmpty(raw: Buffer | 'too-large'): any {
  return raw === 'too-large' || raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
}

/** The emulator-only endpoints under /__emulator (no auth, no limits, not logged); see the README. */
export function handleAdmin(target: AdminTarget, method: string, path: string, query: URLSearchParams, raw: Buffer | 'too-large', res: ServerResponse): void {
  const { store, faults, limits } = target;
  const route = `${method} ${path}`;
  const paged = <T>(items: readonly T[]) => {
    const offset = Number(query.get('offset') ?? 0) || 0;
    const limit = query.has('limit') ? Number(query.get('limit')) : items.length;
    return { total: items.length, data: items.slice(offset, offset + limit) };
  };
  switch (route) {
    case 'GET /__emulator/events': {
      const metric = query.get('metric');
      const email = query.get('email');
      const uniqueId = query.get('unique_id');
      let events = store.events;
      if (metric || email || uniqueId) {
        events = events.filter((e) => (!metric || e.metric === metric) && (!email || e.profile.email === email) && (!uniqueId || e.unique_id === uniqueId));
      }
      return send(res, 200, paged(events));
    }
    case 'GET /__emulator/metrics':
      return send(res, 200, { data: store.metrics() });
    case 'GET /__emulator/profiles':
      return send(res, 200, paged(store.profiles()));
    case 'GET /__emulator/deletions':
      return send(res, 200, { data: store.deletions });
    case 'GET /__emulator/requests':
      return send(res, 200, paged(store.requestLog()));
    case 'GET /__emulator/stats':
      return send(res, 200, target.stats());
    case 'GET /__emulator/faults':
      return send(res, 200, faults.describe());
    case 'DELETE /__emulator/faults':
      faults.clear();
      return send(res, 200, faults.describe());
    case 'POST /__emulator/faults': {
      let request: FaultRequest;
      try {
        request = jsonOrEmpty(raw);
      } catch {
        return send(res, 400, { errors: [klaviyoError(400, 'parse_error', 'Malformed request.', 'Body must be JSON.')] });
      }
      faults.apply(request);
      return send(res, 200, faults.describe());
    }
    case 'POST /__emulator/limits': {
      const body = jsonOrEmpty(raw);
      if (typeof body.enabled === 'boolean') limits.enabled = body.enabled;
      return send(res, 200, { enabled: limits.enabled });
    }
    case 'POST /__emulator/reset':
      target.reset();
      return send(res, 200, { reset: true });
    default:
      return send(res, 404, { errors: [klaviyoError(404, 'not_found', 'Not found.', `No emulator route ${route}.`)] });
  }
}
