import { klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import { metricFields, metricResource } from './metric-resource';
import type { Operation } from './operation';

/** get_metric (GET /api/metrics/{id}) → 200 with the metric, 404 when this account has no such metric. */
export const getMetric: Operation = ({ store, baseUrl }, { query, resourceId }) => {
  const metric = store.metricById(resourceId!);
  if (!metric)
    throw new KlaviyoHttpError(404, [
      klaviyoError(404, 'not_found', 'Not found.', `A metric with id ${resourceId} does not exist.`),
    ]);
  const flowTriggers = query.get('include') === 'flow-triggers';
  const body: Record<string, unknown> = {
    data: metricResource(metric, baseUrl(), metricFields(query), flowTriggers),
    links: { self: `${baseUrl()}/api/metrics/${metric.id}/` },
  };
  if (flowTriggers) body.included = [];
  return { status: 200, body };
};
