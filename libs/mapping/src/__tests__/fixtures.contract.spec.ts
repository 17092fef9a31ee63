// Every fixture is checked against Intercom's OpenAPI (contracts/intercom/api.intercom.io.2.14.yaml)
// so the mapping is tested on real shapes, not on what the code happens to read.
import { readdirSync } from 'node:fs';
import { intercomContract } from '@iks/contracts';
import { FIXTURES_DIR, loadJson, notificationFixture } from './fixture.helpers';

/** data.item component per topic (notification fixtures are named `<topic>[.variant].json`). */
function componentFor(topic: string): string {
  if (topic.startsWith('conversation.')) return 'conversation';
  if (topic.startsWith('ticket.')) return 'ticket';
  if (topic === 'contact.deleted') return 'contact_deleted';
  if (topic === 'contact.archived') return 'contact_archived';
  if (topic.startsWith('company.')) return 'company';
  return 'contact';
}

/**
 * Known defects of the 2.14 description, not of the payloads: `addressable_list.type` and
 * `.url` are declared `format: uri`, but the API returns `"type": "tag"` and relative urls
 * such as `/contacts/{id}/tags`. Only these errors are tolerated.
 */
const SPEC_DEFECT = /^\/(tags|notes|companies)\/(url|data\/\d+\/(type|url)) must match format "uri"$/;

function realErrors(errors: readonly string[]): string[] {
  return errors.filter((e) => !SPEC_DEFECT.test(e));
}

describe('fixtures match the Intercom 2.14 OpenAPI description', () => {
  // Ajv warns once per unknown OpenAPI format ("timestamp"); that is noise here.
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const contract = intercomContract();
  const files = readdirSync(`${FIXTURES_DIR}/notifications`).filter((f) => f.endsWith('.json'));

  it('has one fixture per mapped topic', () => {
    const topics = new Set(files.map((f) => notificationFixture(f).topic));
    for (const t of [
      'conversation.user.created',
      'conversation.rating.added',
      'conversation.read',
      'conversation.user.replied',
      'ticket.created',
      'ticket.state.updated',
      'ticket.contact.replied',
      'ticket.resolved',
      'contact.user.created',
      'contact.subscribed',
      'contact.unsubscribed',
      'contact.deleted',
    ]) {
      expect(topics).toContain(t);
    }
  });

  it.each(files)('%s is a notification_event envelope', (file) => {
    const body = notificationFixture(file);
    expect(body).toMatchObject({ type: 'notification_event', data: { type: 'notification_event_data' } });
    expect(typeof body.id).toBe('string');
    expect(typeof body.app_id).toBe('string');
    expect(Number.isInteger(body.created_at)).toBe(true);
    expect(Number.isInteger(body.delivery_attempts)).toBe(true);
    expect(file.startsWith(`${body.topic}.`)).toBe(true);
  });

  it.each(files)('%s data.item validates against its component', (file) => {
    const body = notificationFixture(file);
    const item = body.data.item as Record<string, unknown>;
    if (file.includes('.legacy_1_x.')) {
      // API 1.x, which the 2.14 description does not cover: only the shape the mapping refuses
      // is checked (a `user` and no `contacts`).
      expect(item).toMatchObject({ type: 'conversation', user: { type: 'user' } });
      expect(item.contacts).toBeUndefined();
      return;
    }
    if (item.type === 'subscription') {
      // contact.subscribed / contact.unsubscribed: the "Subscription" of webhook-models is the
      // subscription_type component; the contact it concerns, when present, is a Contact.
      expect(contract.validateComponent('subscription_type', item).errors).toEqual([]);
      if (item.contact !== undefined)
        expect(realErrors(contract.validateComponent('contact', item.contact).errors)).toEqual([]);
      return;
    }
    if (item.type === 'contact_tag') {
      // contact.*.tag.* carry a contact_tag wrapper (no component in the description): check its parts.
      expect(contract.validateComponent('tag', item.tag).errors).toEqual([]);
      expect(realErrors(contract.validateComponent('contact', item.contact).errors)).toEqual([]);
      return;
    }
    const result = contract.validateComponent(componentFor(body.topic), item);
    if (file.includes('.2_11.')) {
      // API 2.11: ticket_state is the category string; only that property differs from 2.14.
      expect(result.errors.length).toBeGreaterThan(0);
      expect(result.errors.every((e) => e.startsWith('/ticket_state'))).toBe(true);
      const { ticket_state: _state, ticket_state_internal_label: _l, ticket_state_external_label: _e, ...rest } = item;
      expect(contract.validateComponent('ticket', rest).errors).toEqual([]);
      return;
    }
    expect(realErrors(result.errors)).toEqual([]);
  });

  it.each([
    ['contacts.json', 'contact'],
    ['admins.json', 'admin'],
    ['teams.json', 'team'],
    ['tags.json', 'tag'],
  ])('%s holds valid %s objects', (file, component) => {
    const list = loadJson(file) as unknown[];
    expect(list.length).toBeGreaterThan(0);
    for (const obj of list) expect(realErrors(contract.validateComponent(component, obj).errors)).toEqual([]);
  });

  it('subscriptions.json holds valid subscription_type lists (array or list envelope)', () => {
    const subs = loadJson('subscriptions.json') as Record<string, unknown>;
    for (const value of Object.values(subs)) {
      if (Array.isArray(value))
        for (const s of value) expect(contract.validateComponent('subscription_type', s).errors).toEqual([]);
      else expect(contract.validateComponent('subscription_type_list', value).errors).toEqual([]);
    }
  });

  it('the contract check does reject a broken item (the validator is live)', () => {
    const body = notificationFixture('conversation.user.created.json');
    const broken = { ...(body.data.item as object), admin_assignee_id: 'not-an-integer', priority: 'urgent' };
    expect(contract.validateComponent('conversation', broken).valid).toBe(false);
  });
});
