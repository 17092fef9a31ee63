import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mapContactToProfile, mapNotification, staticLookups } from '@iks/mapping';
import type { IntercomContact, Loose } from '@iks/intercom';
import { mappedContactJson } from './mapped-contact';

const FIXTURES = join(__dirname, '..', '..', 'mapping', 'fixtures');
const read = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

describe('the contact fields the local store keeps', () => {
  const contacts: Loose<IntercomContact>[] = read('contacts.json');
  const trimmed = contacts.map((c) => JSON.parse(mappedContactJson(JSON.stringify(c))) as Loose<IntercomContact>);
  const rest = { admins: read('admins.json'), teams: read('teams.json'), tags: read('tags.json') };
  const options = { metricNames: {}, deleteOnArchive: true };

  it('are much smaller than the REST contact', () => {
    for (const [i, c] of contacts.entries())
      expect(JSON.stringify(trimmed[i]).length).toBeLessThan(JSON.stringify(c).length * 0.6);
  });

  it('give the same profile as the whole contact', () => {
    const lookups = staticLookups({ contacts, ...rest });
    for (const [i, c] of contacts.entries()) {
      expect(mapContactToProfile(trimmed[i], lookups, { notificationId: 'n', backfill: false }, options)).toEqual(
        mapContactToProfile(c, lookups, { notificationId: 'n', backfill: false }, options),
      );
    }
  });

  it('give the same records for every fixture notification when the directory holds only them', () => {
    const full = staticLookups({ contacts, ...rest });
    const slim = staticLookups({ contacts: trimmed, ...rest });
    const dir = join(FIXTURES, 'notifications');
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const e = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      const input = {
        notificationId: e.id,
        topic: e.topic,
        createdAt: e.created_at,
        source: 'webhook' as const,
        body: e,
      };
      // a payload the mapping refuses (the pre-2.0 shape) is refused alike with either directory
      const run = (lookups: typeof full) => {
        try {
          return mapNotification(input, lookups, options);
        } catch (e) {
          return `refused: ${(e as Error).message}`;
        }
      };
      expect([f, run(slim)]).toEqual([f, run(full)]);
    }
  });
});
