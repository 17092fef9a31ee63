import { splitName, mapContactToProfile } from '../contact-profile.mapper';
import { toE164 } from '../e164.util';
import { toIso8601 } from '../iso-time.util';
import { METRICS } from '@iks/domain';
import type { IntercomContact, Loose } from '@iks/intercom';
import { requiredLookups } from '../required-lookups.util';
import { ticketStateCategory } from '../ticket-state.util';
import { fixtureLookups, inputFor, loadJson } from './fixture.helpers';

describe('toIso8601', () => {
  it.each([
    [0, '1970-01-01T00:00:00Z'],
    [1763980000, '2025-11-24T10:26:40Z'],
    ['1763980000', '2025-11-24T10:26:40Z'],
    [1763980000.9, '2025-11-24T10:26:40Z'],
  ])('%p → %p (no milliseconds)', (input, expected) => expect(toIso8601(input)).toBe(expected));
  it.each([null, undefined, '', 'yesterday', NaN, {}])('%p → undefined', (input) =>
    expect(toIso8601(input)).toBeUndefined(),
  );
});

describe('toE164', () => {
  it.each([
    ['+44 7911 123456', undefined, '+447911123456'],
    ['+1 (415) 555-2671', undefined, '+14155552671'],
    ['(415) 555-2671', 'US', '+14155552671'],
    ['0412 345 678', 'au', '+61412345678'],
    ['  +39 347 123 4567 ', undefined, '+393471234567'],
  ])('%p (region %p) → %p', (phone, region, expected) => expect(toE164(phone, region)).toBe(expected));
  it.each([
    ['0412 345 678', undefined],
    ['12', undefined],
    ['+15555550100', undefined],
    ['call me', 'US'],
    ['', 'US'],
    [null, 'US'],
    [4155552671, 'US'],
  ])('%p (region %p) is not E.164-able', (phone, region) => expect(toE164(phone, region)).toBeUndefined());
});

describe('splitName', () => {
  it.each([
    ['Ada Lovelace', { first: 'Ada', last: 'Lovelace' }],
    ['Grace Brewster Hopper', { first: 'Grace', last: 'Brewster Hopper' }],
    ['Cher', { first: 'Cher' }],
    ['  Ada   Lovelace ', { first: 'Ada', last: 'Lovelace' }],
    ['', {}],
    [null, {}],
  ])('%p → %p', (name, expected) => expect(splitName(name)).toEqual(expected));
});

describe('ticketStateCategory', () => {
  it('reads the 2.12+ object and the 2.11 string', () => {
    expect(
      ticketStateCategory({ ticket_state: { type: 'ticket_state', id: '1', category: 'waiting_on_customer' } }),
    ).toBe('waiting_on_customer');
    expect(ticketStateCategory({ ticket_state: 'resolved', ticket_state_internal_label: 'Resolved' })).toBe('resolved');
    expect(ticketStateCategory({ ticket_state: null })).toBeUndefined();
    expect(ticketStateCategory({})).toBeUndefined();
  });
});

describe('METRICS', () => {
  it('names the nine metrics of MAPPING.md', () => {
    expect(Object.values(METRICS)).toEqual([
      'Conversation Created',
      'Conversation Rated',
      'Read Conversation',
      'Replied to Conversation',
      'Ticket Created',
      'Ticket Submitted',
      'Replied to Ticket',
      'Ticket Marked as Waiting',
      'Ticket Resolved',
    ]);
  });
});

describe('mapContactToProfile (directory contacts)', () => {
  it('maps a contact fetched with GET /contacts/{id}', () => {
    const [ada] = loadJson('contacts.json') as Loose<IntercomContact>[];
    expect(mapContactToProfile(ada, fixtureLookups(), { notificationId: 'directory-fetch', backfill: true })).toEqual({
      kind: 'profile',
      intercom_contact_id: '6571f0a1b2c3d4e5f6a7b8c9',
      email: 'ada@example.com',
      phone_number: '+447911123456',
      first_name: 'Ada',
      last_name: 'Lovelace',
      image: 'https://static.intercomassets.com/avatars/6571/square_128/ada.png',
      location: { city: 'London', country: 'United Kingdom', region: 'England' },
      properties: {
        'Intercom Contact ID': '6571f0a1b2c3d4e5f6a7b8c9',
        'Contact Role': 'user',
        Intercom_has_hard_bounced: false,
        Intercom_marked_email_as_spam: false,
        Intercom_unsubscribed_from_emails: false,
        Intercom_opted_in_subscription_types_count: 2,
        Intercom_custom_attributes: { plan: 'pro', seats: 12 },
        Intercom_tags: ['VIP', 'Churn risk'],
      },
      updated_at: 1763900000,
      backfill: true,
      source_notification_id: 'directory-fetch',
    });
  });

  it('reads a tag.list shaped tag list (names inline) as older payloads carry', () => {
    const contact = {
      type: 'contact',
      id: 'c9',
      email: 'x@example.com',
      tags: {
        type: 'tag.list',
        tags: [
          { type: 'tag', id: '5', name: 'Inline' },
          { type: 'tag', id: '17' },
        ],
      },
    };
    expect(
      mapContactToProfile(contact as Loose<IntercomContact>, fixtureLookups(), { notificationId: 'n', backfill: false })
        .properties.Intercom_tags,
    ).toEqual(['Inline', 'VIP']);
  });

  it('keeps only what a sparse contact has', () => {
    expect(
      mapContactToProfile(
        {
          type: 'contact',
          id: 42,
          email: 'x@example.com',
          name: null,
          phone: null,
          location: null,
          avatar: null,
          tags: null,
        },
        fixtureLookups(),
        { notificationId: 'n', backfill: false },
      ),
    ).toEqual({
      kind: 'profile',
      intercom_contact_id: '42',
      email: 'x@example.com',
      properties: { 'Intercom Contact ID': '42' },
      updated_at: null,
      backfill: false,
      source_notification_id: 'n',
    });
  });
});

describe('requiredLookups', () => {
  it('conversation: contact, integer admin id as string, team', () => {
    expect(requiredLookups(inputFor('conversation.user.created.json'))).toEqual({
      contactIds: ['6571f0a1b2c3d4e5f6a7b8c9'],
      adminIds: ['814860'],
      teamIds: ['5017691'],
      tagIds: [],
      subscriptionContactIds: [],
    });
  });

  it('ticket: "0" assignees are nobody', () => {
    expect(requiredLookups(inputFor('ticket.created.json'))).toEqual({
      contactIds: ['6571f0a1b2c3d4e5f6a7b8d1'],
      adminIds: [],
      teamIds: [],
      tagIds: [],
      subscriptionContactIds: [],
    });
    expect(requiredLookups(inputFor('ticket.resolved.json'))).toMatchObject({
      adminIds: ['814860'],
      teamIds: ['5017691'],
    });
  });

  it('contact topics: subscriptions and tag names', () => {
    expect(requiredLookups(inputFor('contact.user.created.json'))).toEqual({
      contactIds: [],
      adminIds: [],
      teamIds: [],
      tagIds: ['17', '42'],
      subscriptionContactIds: ['6571f0a1b2c3d4e5f6a7b8c9'],
    });
    expect(requiredLookups(inputFor('contact.user.tag.created.json'))).toEqual({
      contactIds: [],
      adminIds: [],
      teamIds: [],
      tagIds: ['17', '42', '88'],
      subscriptionContactIds: ['6571f0a1b2c3d4e5f6a7b8c9'],
    });
  });

  it('a tag notification carrying only a contact reference needs the directory contact and the tag name', () => {
    const n = inputFor('contact.user.tag.created.json', 'webhook', (item) => {
      item.contact = { type: 'contact', id: '6571f0a1b2c3d4e5f6a7b8c9' };
      delete item.tag.name;
    });
    expect(requiredLookups(n)).toEqual({
      contactIds: ['6571f0a1b2c3d4e5f6a7b8c9'],
      adminIds: [],
      teamIds: [],
      tagIds: ['88'],
      subscriptionContactIds: ['6571f0a1b2c3d4e5f6a7b8c9'],
    });
  });

  it('contact.deleted with only an id needs the directory contact', () => {
    expect(requiredLookups(inputFor('contact.deleted.json')).contactIds).toEqual(['6571f0a1b2c3d4e5f6a7b8c9']);
  });

  it('unknown topics and broken bodies need nothing (and do not throw)', () => {
    const none = { contactIds: [], adminIds: [], teamIds: [], tagIds: [], subscriptionContactIds: [] };
    expect(requiredLookups(inputFor('company.created.json'))).toEqual(none);
    expect(requiredLookups({ ...inputFor('ticket.created.json'), body: '{broken' })).toEqual(none);
  });
});
