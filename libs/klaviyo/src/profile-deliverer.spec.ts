import { profileRecord } from './__tests__/fixtures';
import { klaviyoHarness, profileImportAttributes } from './__tests__/delivery-harness';
import { klaviyoError } from './__tests__/klaviyo-test-double';
import { PHONE_DROPPED_NOTE } from './profile-deliverer';

describe('KlaviyoProfileDeliverer', () => {
  const h = klaviyoHarness();

  it('upserts via profile-import; a non-E.164 phone is dropped; no identifier is rejected without a request', async () => {
    const results = await h
      .delivery()
      .profiles.deliver([
        profileRecord(),
        profileRecord({ intercom_contact_id: 'c-2', email: 'b@example.com', phone_number: '555 0100' }),
        profileRecord({ intercom_contact_id: 'c-3', email: undefined, phone_number: '555 0100' }),
      ]);
    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'rejected']);
    expect(results[2]).toMatchObject({ error: { code: 'missing_profile_identifier', status: null, retriable: false } });
    expect(h.klaviyo.requests).toHaveLength(2);
    expect(h.klaviyo.requests.every((r) => r.path === '/api/profile-import')).toBe(true);
    const second = h.klaviyo.requests.find((r) => profileImportAttributes(r).email === 'b@example.com')!;
    expect(profileImportAttributes(second).phone_number).toBeUndefined();
  });

  it('keeps the order of upserts for one contact', async () => {
    const recs = [1, 2, 3].map((n) => profileRecord({ first_name: `v${n}`, updated_at: n }));
    await h.delivery().profiles.deliver(recs);
    expect(h.klaviyo.requests.map((r) => profileImportAttributes(r).first_name)).toEqual(['v1', 'v2', 'v3']);
  });

  it('409 duplicate_profile (email and phone name two profiles): upserts again by the email without the phone, delivered with a note', async () => {
    h.klaviyo.next(
      klaviyoError(
        409,
        'duplicate_profile',
        'A profile already exists with one of these identifiers.',
        '/data/attributes',
      ),
    );
    const [result] = await h.delivery().profiles.deliver([profileRecord()]);
    expect(result).toEqual({ status: 'delivered', notes: [PHONE_DROPPED_NOTE] });
    expect(
      h.klaviyo.requests.map((r) => [profileImportAttributes(r).email, profileImportAttributes(r).phone_number]),
    ).toEqual([
      ['ada@example.com', '+14155550123'],
      ['ada@example.com', undefined],
    ]);
    expect(profileImportAttributes(h.klaviyo.requests[1])).toMatchObject({
      first_name: 'Ada',
      properties: { plan: 'pro' },
    });
  });

  it("a 409 with one identifier, or a second 409, is the record's rejection (nothing else to drop)", async () => {
    const conflict = () =>
      klaviyoError(
        409,
        'duplicate_profile',
        'A profile already exists with one of these identifiers.',
        '/data/attributes',
      );
    h.klaviyo.next(conflict(), conflict(), conflict());
    const results = await h
      .delivery({ singleConcurrency: 1 })
      .profiles.deliver([
        profileRecord({ intercom_contact_id: 'a', phone_number: undefined }),
        profileRecord({ intercom_contact_id: 'b' }),
      ]);
    expect(results.map((r) => r.status === 'rejected' && [r.error.status, r.error.code])).toEqual([
      [409, 'duplicate_profile'],
      [409, 'duplicate_profile'],
    ]);
    expect(h.klaviyo.requests).toHaveLength(3);
  });

  it('a 400 rejects that profile only; a 5xx is retried', async () => {
    h.klaviyo.next(
      klaviyoError(400, 'invalid', 'Invalid email', '/data/attributes/email'),
      klaviyoError(502, 'bad_gateway', 'x'),
    );
    const results = await h
      .delivery({ singleConcurrency: 1 })
      .profiles.deliver([
        profileRecord({ intercom_contact_id: 'a', email: 'not-an-email' }),
        profileRecord({ intercom_contact_id: 'b', email: 'b@example.com' }),
      ]);
    expect(results[0]).toEqual({
      status: 'rejected',
      error: {
        status: 400,
        code: 'invalid',
        detail: 'Invalid email',
        pointer: '/data/attributes/email',
        retriable: false,
      },
    });
    expect(results[1]).toEqual({ status: 'delivered' });
    expect(h.klaviyo.requests).toHaveLength(3);
  });
});
