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
export function inputFor(file: string, source: 'webhook' | 'backfill' = 'webhook', mutate?: (item: any) => void): IntercomNotificationInput {
  const body = notificationFixture(file);
  if (mutate) mutate(body.data.item);
  return { notificationId: body.id, topic: body.topic, createdAt: body.created_at, source, body };
}

/** The directory built from the fixture directory files (contacts, admins, teams, tags, subscriptions). */
export function fixtureLookups(overrides: { deletedContactIds?: string[]; withoutContacts?: boolean; contacts?: any[] } = {}): Lookups {
  const subsRaw = loadJson('subscriptions.json') as Record<string, any>;
  const subscriptions: Record<string, any[]> = {};
  for (const [id, v] of Object.entries(subsRaw)) subscriptions[id] = Array.isArray(v) ? v : v.data;
  return staticLookups({
    contacts: overrides.withoutContacts ? [] : (overrides.contacts ?? (loadJson('contacts.json') as any[])),
    admins: loadJson('admins.json') as any[],
    teams: loadJson('teams.json') as any[],
    tags: loadJson('tags.json') as any[],
    subscriptions,
    deletedContactIds: overrides.deletedContactIds,
  });
}
