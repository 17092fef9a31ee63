import type {
  IntercomAdmin,
  IntercomContact,
  IntercomSubscriptionType,
  IntercomTag,
  IntercomTeam,
  Loose,
} from '@iks/intercom';

/**
 * The one port through which the transformer reads Intercom's REST API (GET /contacts/{id},
 * /contacts/{id}/subscriptions, /admins, /teams, /tags). The real implementation wraps
 * @iks/intercom's client; without INTERCOM_ACCESS_TOKEN the directory is fed by webhooks only.
 */
export interface IntercomSource {
  readonly enabled: boolean;
  getContact(id: string): Promise<Loose<IntercomContact> | undefined>;
  getContactSubscriptions(id: string): Promise<Loose<IntercomSubscriptionType>[]>;
  listAdmins(): Promise<Loose<IntercomAdmin>[]>;
  listTeams(): Promise<Loose<IntercomTeam>[]>;
  listTags(): Promise<Loose<IntercomTag>[]>;
}

export const NO_INTERCOM_API: IntercomSource = {
  enabled: false,
  getContact: async () => undefined,
  getContactSubscriptions: async () => [],
  listAdmins: async () => [],
  listTeams: async () => [],
  listTags: async () => [],
};
