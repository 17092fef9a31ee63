import type { Config } from '@iks/config';
import { IntercomClient } from '@iks/intercom';
import type { IntercomAdmin, IntercomContact, IntercomSubscriptionType, IntercomTag, IntercomTeam, Loose } from '@iks/intercom';
import { NO_INTERCOM_API, type IntercomSource } from './intercom-source';

/** The real IntercomSource: Intercom's REST API with INTERCOM_ACCESS_TOKEN, or none without it. */
export function intercomSourceFor(config: Config): IntercomSource {
  if (!config.intercom.accessToken) return NO_INTERCOM_API;
  const client = new IntercomClient({ accessToken: config.intercom.accessToken, baseUrl: config.intercom.baseUrl, version: config.intercom.version });
  return {
    enabled: true,
    getContact: async (id) => (await client.getContact(id)) as Loose<IntercomContact> | undefined,
    getContactSubscriptions: async (id) => (await client.getContactSubscriptions(id)) as Loose<IntercomSubscriptionType>[],
    listAdmins: async () => (await client.listAdmins()) as Loose<IntercomAdmin>[],
    listTeams: async () => (await client.listTeams()) as Loose<IntercomTeam>[],
    listTags: async () => (await client.listTags()) as Loose<IntercomTag>[],
  };
}
