import type { StoredProfile } from '../klaviyo-emulator.store';

/** The profile as create_or_update_profile returns it. */
export function profileResource(p: StoredProfile, baseUrl: string): Record<string, unknown> {
  return {
    type: 'profile',
    id: p.id,
    attributes: {
      email: p.email,
      phone_number: p.phone_number,
      external_id: p.external_id,
      ...p.attributes,
      created: p.created,
      updated: p.updated,
      last_event_date: p.last_event_date,
      properties: p.properties,
    },
    links: { self: `${baseUrl}/api/profiles/${p.id}/` },
  };
}
