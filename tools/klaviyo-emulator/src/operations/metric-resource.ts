import type { StoredMetric } from '../klaviyo-emulator.store';

export const METRIC_FIELDS = ['name', 'created', 'updated', 'integration'] as const;

/** The metric as get_metrics / get_metric return it (MetricResponseObjectResource), with `fields[metric]` applied. */
export function metricResource(
  m: StoredMetric,
  baseUrl: string,
  fields: readonly string[] | undefined,
  flowTriggers: boolean,
): Record<string, unknown> {
  const all: Record<string, unknown> = {
    name: m.name,
    created: m.created,
    updated: m.updated,
    integration: m.integration,
  };
  const attributes = fields ? Object.fromEntries(Object.entries(all).filter(([k]) => fields.includes(k))) : all;
  const resource: Record<string, unknown> = {
    type: 'metric',
    id: m.id,
    attributes,
    links: { self: `${baseUrl}/api/metrics/${m.id}/` },
  };
  // The emulator has no flows: a metric triggers none.
  if (flowTriggers)
    resource.relationships = {
      'flow-triggers': {
        data: [],
        links: {
          self: `${baseUrl}/api/metrics/${m.id}/relationships/flow-triggers/`,
          related: `${baseUrl}/api/metrics/${m.id}/flow-triggers/`,
        },
      },
    };
  return resource;
}

/** `fields[metric]` as a list (already checked against the contract's enum), or undefined for all. */
export function metricFields(query: URLSearchParams): readonly string[] | undefined {
  const f = query.get('fields[metric]');
  return f === null ? undefined : f.split(',');
}
