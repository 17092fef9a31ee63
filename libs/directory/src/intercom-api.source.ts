import type { Config } from '@iks/config';
import type { Connection } from '@iks/connections';
import { IntercomClient } from '@iks/intercom';
import { NO_INTERCOM_API, type IntercomSource } from './intercom-source';

/** The real IntercomSource: Intercom's REST API with INTERCOM_ACCESS_TOKEN, or none without it. */
export function intercomSourceFor(config: Config): IntercomSource {
  if (!config.intercom.accessToken) return NO_INTERCOM_API;
  const client = new IntercomClient({
    accessToken: config.intercom.accessToken,
    baseUrl: config.intercom.baseUrl,
    version: config.intercom.version,
  });
  return {
    enabled: true,
    getContact: (id) => client.getContact(id),
    getContactSubscriptions: (id) => client.getContactSubscriptions(id),
    listAdmins: () => client.listAdmins(),
    listTeams: () => client.listTeams(),
    listTags: () => client.listTags(),
  };
}

/**
 * A connection's IntercomSource: its workspace's API host (region or override) with its access
 * token, or none without a token (contacts then come from its contact.* webhooks only).
 */
export function intercomSourceForConnection(connection: Connection, version: string): IntercomSource {
  const token = connection.intercom.accessToken;
  if (!token) return NO_INTERCOM_API;
  const client = new IntercomClient({ accessToken: token, baseUrl: connection.intercom.apiBaseUrl, version });
  return {
    enabled: true,
    getContact: (id) => client.getContact(id),
    getContactSubscriptions: (id) => client.getContactSubscriptions(id),
    listAdmins: () => client.listAdmins(),
    listTeams: () => client.listTeams(),
    listTags: () => client.listTags(),
  };
}
