/** Real-shaped records for specs. */
import type { KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';

export function eventRecord(over: Partial<KlaviyoEventRecord> = {}): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Intercom Conversation Created',
    profile: { email: 'ada@example.com', phone_number: '+14155550123' },
    properties: { conversation_id: '123', channel: 'email', tags: ['vip'] },
    time: '2026-07-01T10:00:00Z',
    unique_id: 'conv-123-created',
    backfill: false,
    intercom_contact_id: 'c-1',
    source_notification_id: 'n-1',
    source_topic: 'conversation.user.created',
    ...over,
  };
}

export function profileRecord(over: Partial<KlaviyoProfileRecord> = {}): KlaviyoProfileRecord {
  return {
    kind: 'profile',
    intercom_contact_id: 'c-1',
    email: 'ada@example.com',
    phone_number: '+14155550123',
    first_name: 'Ada',
    last_name: 'Lovelace',
    image: 'https://example.com/ada.png',
    location: { city: 'London', country: 'United Kingdom', region: 'England' },
    properties: { intercom_contact_id: 'c-1', plan: 'pro' },
    updated_at: 1_780_000_000,
    backfill: false,
    source_notification_id: 'n-2',
    ...over,
  };
}
