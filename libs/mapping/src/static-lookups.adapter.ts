import type {
  IntercomAdmin,
  IntercomContact,
  IntercomSubscriptionType,
  IntercomTag,
  IntercomTeam,
  Loose,
} from '@iks/intercom';
import type { Lookups } from './mapping.types';
import { idString } from './value.util';

/**
 * An in-memory Lookups over lists of Intercom objects as the REST API returns them
 * (GET /contacts/{id}, GET /admins, GET /teams, GET /tags, GET /contacts/{id}/subscriptions).
 * Used by the offline `map` command and by tests; ids are normalised to strings.
 */
export function staticLookups(data: {
  contacts?: readonly Loose<IntercomContact>[];
  admins?: readonly Loose<IntercomAdmin>[];
  teams?: readonly Loose<IntercomTeam>[];
  tags?: readonly Loose<IntercomTag>[];
  subscriptions?: Readonly<Record<string, readonly Loose<IntercomSubscriptionType>[]>>;
  deletedContactIds?: readonly (string | number)[];
}): Lookups {
  const byId = <T extends { id?: unknown }>(list: readonly T[] | undefined) => {
    const map = new Map<string, T>();
    for (const o of list ?? []) {
      const id = o && typeof o === 'object' ? idString(o.id) : undefined;
      if (id !== undefined) map.set(id, o);
    }
    return map;
  };
  const contacts = byId(data.contacts);
  const admins = byId(data.admins);
  const teams = byId(data.teams);
  const tags = byId(data.tags);
  const deleted = new Set((data.deletedContactIds ?? []).map((id) => String(id)));
  const subscriptions = new Map(Object.entries(data.subscriptions ?? {}));
  return {
    contact: (id) => contacts.get(String(id)),
    contactDeleted: (id) => deleted.has(String(id)),
    admin: (id) => admins.get(String(id)),
    team: (id) => teams.get(String(id)),
    tagName: (id) => {
      const name = tags.get(String(id))?.name;
      return typeof name === 'string' && name !== '' ? name : undefined;
    },
    subscriptions: (contactId) => {
      const list = subscriptions.get(String(contactId));
      return list ? [...list] : undefined;
    },
  };
}
