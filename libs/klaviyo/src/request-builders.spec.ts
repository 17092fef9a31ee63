import { klaviyoContract } from '@iks/contracts';
import { KLAVIYO_REVISION, type KlaviyoDeletionRecord } from '@iks/domain';
import { eventRecord, profileRecord } from './__tests__/fixtures';
import {
  buildBulkCreateEventsBody,
  buildBulkEventEntry,
  buildCreateEventBody,
  buildProfileDeletionBody,
  buildProfileImportBody,
  deletionIdentifier,
} from './request-builders';

const bulk = () => klaviyoContract('bulk_create_events');
const single = () => klaviyoContract('create_event');
const profileImport = () => klaviyoContract('create_or_update_profile');
const deletion = () => klaviyoContract('request_profile_deletion');

describe(`request builders (contracts/klaviyo, revision ${KLAVIYO_REVISION})`, () => {
  it('Bulk Create Events body validates, one event per profile entry', () => {
    const body = buildBulkCreateEventsBody(
      [eventRecord(), eventRecord({ unique_id: 'u2', backfill: true })].map(buildBulkEventEntry),
    );
    expect(bulk().validateRequestBody('post', '/api/event-bulk-create-jobs', body).errors).toEqual([]);
    const entries = body.data.attributes['events-bulk-create'].data;
    expect(entries).toHaveLength(2);
    expect(entries[0].attributes.events.data).toHaveLength(1);
    expect(entries[0].attributes.profile.data.attributes).toEqual({
      email: 'ada@example.com',
      phone_number: '+14155550123',
    });
    expect(entries[0].attributes.events.data[0].attributes).toMatchObject({
      metric: { data: { type: 'metric', attributes: { name: 'Intercom Conversation Created' } } },
      time: '2026-07-01T10:00:00Z',
      unique_id: 'conv-123-created',
      properties: { conversation_id: '123' },
    });
  });

  it("marks backfill events with the contract's `backfill: true` (recorded, no flows), live events without it", () => {
    const live = buildBulkEventEntry(eventRecord());
    const hist = buildBulkEventEntry(eventRecord({ backfill: true }));
    expect('backfill' in live.attributes).toBe(false);
    expect('backfill' in live.attributes.events.data[0].attributes).toBe(false);
    expect(hist.attributes).toMatchObject({ backfill: true });
    expect(hist.attributes.events.data[0].attributes).toMatchObject({ backfill: true });
    const s = buildCreateEventBody(eventRecord({ backfill: true }));
    expect(s.data.attributes).toMatchObject({ backfill: true });
    expect(single().validateRequestBody('post', '/api/events', s).errors).toEqual([]);
  });

  it('Create Event body validates', () => {
    const body = buildCreateEventBody(eventRecord());
    expect(single().validateRequestBody('post', '/api/events', body).errors).toEqual([]);
    expect(body.data.attributes.profile.data.attributes.email).toBe('ada@example.com');
  });

  it('drops a phone that is not E.164 from every request', () => {
    const e = eventRecord({ profile: { email: 'a@example.com', phone_number: '(415) 555-0123' } });
    expect(buildCreateEventBody(e).data.attributes.profile.data.attributes).toEqual({ email: 'a@example.com' });
    expect(buildBulkEventEntry(e).attributes.profile.data.attributes).toEqual({ email: 'a@example.com' });
    expect(
      buildProfileImportBody(profileRecord({ phone_number: '07700 900123' })).data.attributes.phone_number,
    ).toBeUndefined();
  });

  it('Create or Update Profile body validates and leaves absent fields out (null would clear them)', () => {
    const body = buildProfileImportBody(profileRecord());
    expect(profileImport().validateRequestBody('post', '/api/profile-import', body).errors).toEqual([]);
    expect(body.data.attributes).toEqual({
      email: 'ada@example.com',
      phone_number: '+14155550123',
      first_name: 'Ada',
      last_name: 'Lovelace',
      image: 'https://example.com/ada.png',
      location: { city: 'London', country: 'United Kingdom', region: 'England' },
      properties: { intercom_contact_id: 'c-1', plan: 'pro' },
    });
    const sparse = buildProfileImportBody(
      profileRecord({ first_name: undefined, last_name: undefined, image: undefined, location: {}, properties: {} }),
    );
    expect(sparse.data.attributes).toEqual({ email: 'ada@example.com', phone_number: '+14155550123' });
    expect(profileImport().validateRequestBody('post', '/api/profile-import', sparse).errors).toEqual([]);
  });

  it('Request Profile Deletion body validates and carries exactly one identifier', () => {
    const rec: KlaviyoDeletionRecord = {
      kind: 'deletion',
      intercom_contact_id: 'c-1',
      email: 'ada@example.com',
      phone_number: '+14155550123',
      requested_at: 1,
      source_notification_id: 'n',
    };
    const byEmail = buildProfileDeletionBody(deletionIdentifier(rec)!);
    expect(byEmail.data.attributes.profile.data.attributes).toEqual({ email: 'ada@example.com' });
    expect(deletion().validateRequestBody('post', '/api/data-privacy-deletion-jobs', byEmail).errors).toEqual([]);
    const byPhone = buildProfileDeletionBody(deletionIdentifier({ phone_number: '+14155550123' })!);
    expect(byPhone.data.attributes.profile.data.attributes).toEqual({ phone_number: '+14155550123' });
    expect(deletion().validateRequestBody('post', '/api/data-privacy-deletion-jobs', byPhone).errors).toEqual([]);
    expect(deletionIdentifier({ phone_number: '555-0123' })).toBeUndefined();
  });

  it('the contract check has teeth: a malformed body is refused', () => {
    const body = buildCreateEventBody(eventRecord()) as { data: { attributes: { metric?: unknown } } };
    delete body.data.attributes.metric;
    expect(single().validateRequestBody('post', '/api/events', body).valid).toBe(false);
  });
});
