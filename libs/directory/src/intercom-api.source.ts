import type { Config } from '@iks/config';
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
