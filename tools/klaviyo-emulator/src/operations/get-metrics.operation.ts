import { MAX_METRICS_PER_PAGE } from '../klaviyo-emulator.constants';
import { klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import { parseMetricFilter } from './metric-filter';
import { metricFields, metricResource } from './metric-resource';
import type { Operation } from './operation';

/**
 * get_metrics (GET /api/metrics) → 200: "Get all metrics in an account. Requests can be filtered by
 * the following fields: integration `name`, integration `category`. Returns a maximum of 200 results
 * per page." Cursor-paged (`page[cursor]`, an opaque cursor from `links.next`).
 */
export const getMetrics: Operation = ({ store, baseUrl }, { query }) => {
  const filterText = query.get('filter');
  const filter = filterText === null ? undefined : parseMetricFilter(filterText);
  const cursor = query.get('page[cursor]');
  let offset = 0;
  if (cursor !== null) {
    const m = /^m([0-9]+)$/.exec(cursor);
    if (!m)
      throw new KlaviyoHttpError(400, [
        klaviyoError(400, 'invalid', 'Invalid input.', `Invalid page cursor "${cursor}".`, {
          parameter: 'page[cursor]',
        }),
      ]);
    offset = Number(m[1]);
  }
  const metrics = filter ? store.metrics().filter(filter) : store.metrics();
  const page = metrics.slice(offset, offset + MAX_METRICS_PER_PAGE);
  const fields = metricFields(query);
  const flowTriggers = query.get('include') === 'flow-triggers';
  const base = `${baseUrl()}/api/metrics/`;
  const self = query.toString() ? `${base}?${query.toString()}` : base;
  const links: Record<string, string> = { self };
  if (offset + MAX_METRICS_PER_PAGE < metrics.length) {
    const next = new URLSearchParams(query);
    next.set('page[cursor]', `m${offset + MAX_METRICS_PER_PAGE}`);
    links.next = `${base}?${next.toString()}`;
  }
  if (offset > 0) {
    const prev = new URLSearchParams(query);
    prev.set('page[cursor]', `m${Math.max(0, offset - MAX_METRICS_PER_PAGE)}`);
    links.prev = `${base}?${prev.toString()}`;
  }
  const body: Record<string, unknown> = {
    data: page.map((m) => metricResource(m, baseUrl(), fields, flowTriggers)),
    links,
  };
  if (flowTriggers) body.included = [];
  return { status: 200, body };
};
