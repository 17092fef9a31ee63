import type { Config } from '@iks/config';
import type { Connection } from '@iks/connections';
import { intercomClientFactory, type IntercomClientFactory, type IntercomEndpoint } from '@iks/intercom';
import { NO_INTERCOM_API, type IntercomSource } from './intercom-source';

/** The real IntercomSource: Intercom's REST API with INTERCOM_ACCESS_TOKEN, or none without it. */
export function intercomSourceFor(
  config: Config,
  intercomClient: IntercomClientFactory = intercomClientFactory({ version: config.intercom.version }),
): IntercomSource {
  return sourceOf(
    { id: 'default', intercom: { accessToken: config.intercom.accessToken, apiBaseUrl: config.intercom.baseUrl } },
    intercomClient,
  );
}

/**
 * A connection's IntercomSource: its workspace's API host (region or override) with its access
 * token, or none without a token (contacts then come from its contact.* webhooks only).
 */
export function intercomSourceForConnection(
  connection: Connection,
  version: string,
  intercomClient: IntercomClientFactory = intercomClientFactory({ version }),
): IntercomSource {
  return sourceOf(connection, intercomClient);
}

function sourceOf(endpoint: IntercomEndpoint, intercomClient: IntercomClientFactory): IntercomSource {
  if (!endpoint.intercom.accessToken) return NO_INTERCOM_API;
  const client = intercomClient(endpoint);
  return {
    enabled: true,
    getContact: (id) => client.getContact(id),
    getContactSubscriptions: (id) => client.getContactSubscriptions(id),
    listAdmins: () => client.listAdmins(),
    listTeams: () => client.listTeams(),
    listTags: () => client.listTags(),
  };
}
