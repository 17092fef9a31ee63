import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contactIdsIn, contactIdsInText } from './intercom-subjects';

const DIR = join(__dirname, '..', '..', 'mapping', 'fixtures', 'notifications');
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));

describe('contactIdsIn: the people an Intercom body names (the subjects of its sealed body)', () => {
  // what each Intercom-shaped fixture names: the contact of a contact.* topic (or of its
  // contact_tag / subscription), a conversation's or ticket's contacts.contacts[], the
  // conversation_rating's contact, the contact authors (type user / lead) of the source and parts
  it.each([
    ['company.created', []],
    ['contact.archived', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['contact.deleted', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['contact.lead.created', ['6571f0a1b2c3d4e5f6a7b8d0']],
    ['contact.subscribed.contact', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['contact.unsubscribed', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['contact.unsubscribed.no_contact', []],
    ['contact.user.created', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['contact.user.tag.created', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['contact.user.tag.deleted', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['contact.user.updated', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['conversation.rating.added', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['conversation.read', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['conversation.user.created', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['conversation.user.created.legacy_1_x', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['conversation.user.replied', ['6571f0a1b2c3d4e5f6a7b8c9']],
    ['ticket.contact.replied', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['ticket.created', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['ticket.resolved', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['ticket.state.updated.in_progress', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['ticket.state.updated.resolved', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['ticket.state.updated.submitted.2_11', ['6571f0a1b2c3d4e5f6a7b8d1']],
    ['ticket.state.updated.waiting_on_customer', ['6571f0a1b2c3d4e5f6a7b8d1']],
  ])('%s names %j', (name, ids) => {
    expect(contactIdsIn(fixture(name)).sort()).toEqual(ids);
  });

  it('covers every fixture', () => {
    expect(readdirSync(DIR).filter((f) => f.endsWith('.json'))).toHaveLength(23);
  });

  it('finds every contact, user and lead object at any depth; not admins, bots, teams or companies', () => {
    const body = {
      data: {
        item: {
          type: 'conversation',
          id: 'conv1',
          contacts: {
            type: 'contact.list',
            contacts: [
              { type: 'contact', id: 'c1' },
              { type: 'contact', id: 'c2' },
            ],
          },
          source: { author: { type: 'lead', id: 'l1', email: 'l@example.com' } },
          teammates: { admins: [{ type: 'admin', id: 'a1' }] },
          conversation_parts: {
            conversation_parts: [
              { author: { type: 'user', id: 'c1' } },
              { author: { type: 'bot', id: 'b1' } },
              { author: { type: 'team', id: 't1' } },
              { author: { type: 'user', id: 77 } },
            ],
          },
          company: { type: 'company', id: 'co1' },
          no_id: { type: 'contact' },
          null_id: { type: 'contact', id: null },
          object_id: { type: 'user', id: { id: 'x' } },
        },
      },
    };
    expect(contactIdsIn(body).sort()).toEqual(['77', 'c1', 'c2', 'l1']);
  });

  it('reads a body as JSON.parse gives it (the last of duplicate keys) and names no one in a body that is not JSON', () => {
    expect(contactIdsInText('{"a":{"type":"admin","id":"x","type":"user"}}')).toEqual(['x']);
    expect(contactIdsInText('{"a":{"type":"user","id":"x","id":"y"}}')).toEqual(['y']);
    expect(contactIdsInText('not json')).toEqual([]);
  });

  it('walks a deeply nested body without overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}{"type":"user","id":"deep"}${']'.repeat(100_000)}`;
    expect(contactIdsInText(deep)).toEqual(['deep']);
  });
});
