import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IntercomNotificationInput, Lookups } from '../mapping.types';
import { staticLookups } from '../static-lookups.adapter';

export const FIXTURES_DIR = join(__dirname, '..', '..', 'fixtures');

export function loadJson(relative: string): unknown {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, relative), 'utf8'));
}

export interface NotificationBody {
  type: string;
  id: string;
  app_id: string;
  topic: string;
  created_at: number;
  delivery_attempts: number;
  data: { type: string; item: unknown };
}

export function notificationFixture(file: string): NotificationBody {
  return loadJson(`notifications/${file}`) as NotificationBody;
}

/** The transformer's input for a fixture, as ingest would have recorded it. */
export function inputFor(
  file: string,
  source: 'webhook' | 'backfill' = 'webhook',
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  mutate?: (item: any) => void,
): IntercomNotificationInput {
  const body = notificationFixture(file);
  if (mutate) mutate(body.data.item);
  return { notificationId: body.id, topic: body.topic, createdAt: body.created_at, source, body };
}

/** What staticLookups reads: the directory files' lists. */
type Directory = Parameters<typeof staticLookups>[0];
type Subscriptions = NonNullable<Directory['subscriptions']>[string];

/** The directory built from the fixture directory files (contacts, admins, teams, tags, subscriptions). */
export function fixtureLookups(
  overrides: { deletedContactIds?: string[]; withoutContacts?: boolean; contacts?: Directory['contacts'] } = {},
): Lookups {
  // GET /contacts/{id}/subscriptions answers `{ type: 'list', data: [...] }`; some entries are kept in that form.
  const subsRaw = loadJson('subscriptions.json') as Record<string, Subscriptions | { data: Subscriptions }>;
  const subscriptions: Record<string, Subscriptions> = {};
  for (const [id, v] of Object.entries(subsRaw))
    subscriptions[id] = Array.isArray(v) ? v : (v as { data: Subscriptions }).data;
  return staticLookups({
    contacts: overrides.withoutContacts
      ? []
      : (overrides.contacts ?? (loadJson('contacts.json') as Directory['contacts'])),
    admins: loadJson('admins.json') as Directory['admins'],
    teams: loadJson('teams.json') as Directory['teams'],
    tags: loadJson('tags.json') as Directory['tags'],
    subscriptions,
    deletedContactIds: overrides.deletedContactIds,
  });
}
