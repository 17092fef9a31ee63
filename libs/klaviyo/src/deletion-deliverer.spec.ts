import type { KlaviyoDeletionRecord } from '@iks/domain';
import { deletionProfile, klaviyoHarness } from './__tests__/delivery-harness';

const del = (over: Partial<KlaviyoDeletionRecord>): KlaviyoDeletionRecord => ({
  kind: 'deletion',
  intercom_contact_id: 'c-1',
  requested_at: 1,
  source_notification_id: 'n',
  ...over,
});

describe('KlaviyoDeletionDeliverer', () => {
  const h = klaviyoHarness();

  it('requests a deletion by one identifier (email, else an E.164 phone)', async () => {
    const results = await h
      .delivery()
      .deletions.deliver([
        del({ email: 'ada@example.com', phone_number: '+14155550123' }),
        del({ phone_number: '+14155550123' }),
        del({ phone_number: 'n/a' }),
      ]);
    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'rejected']);
    expect(h.klaviyo.requests.map((r) => deletionProfile(r).attributes)).toEqual([
      { email: 'ada@example.com' },
      { phone_number: '+14155550123' },
    ]);
  });
});
