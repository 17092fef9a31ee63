/**
 * The integration a metric belongs to: get_metrics' `attributes.integration` ("The integration
 * associated with the event"; the contract leaves the object's properties open) and the key of the
 * `filter=equals(integration.name,...)` / `equals(integration.category,...)` filters.
 *
 * Klaviyo's "Branding for app metrics": metrics created via OAuth are *app metrics*, "filterable in
 * the Metrics tab by integration name"; events sent with a private key are *API metrics*, shown with a
 * cog icon and filtered by "API". Klaviyo's Metrics API overview: "All Placed Order events collected or
 * sent via the same mechanism (a given integration or our APIs) will share the same Placed Order
 * metric", so one name sent by two mechanisms is two metrics.
 */
export interface MetricIntegration {
  readonly object: 'integration';
  /** A 6-character id, as Klaviyo's integration and metric ids are. */
  readonly id: string;
  /** A lower-case slug of the name (`api`, `intercom`). */
  readonly key: string;
  readonly name: string;
  readonly category: string;
}

/** Every private-key event's metric belongs here. */
export const API_INTEGRATION: MetricIntegration = {
  object: 'integration',
  id: 'APIint',
  key: 'api',
  name: 'API',
  category: 'API',
};

/** The slug of an integration name: lower case, runs of anything else than [a-z0-9] as one `_`. */
export function integrationKey(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '') || 'app'
  );
}
