import type { KlaviyoEventRecord } from '@iks/domain';
import type { IntercomNotificationInput } from './mapping.types';
import type { EventContact } from './event-contact.resolver';
import { toIso8601 } from './iso-time.util';
import { MappingError } from './mapping.error';

type Identified = Extract<EventContact, { kind: 'identified' }>;

/** One klaviyo.events.v1 record; `time` is unix seconds of when it happened in Intercom. */
export function eventRecord(args: {
  n: IntercomNotificationInput;
  metric: string;
  contact: Identified;
  properties: Record<string, unknown>;
  time: number;
  uniqueId: string;
}): KlaviyoEventRecord {
  const time = toIso8601(args.time);
  if (time === undefined) throw new MappingError(`no event time for ${args.uniqueId}`, 'missing_field');
  return {
    kind: 'event',
    metric: args.metric,
    profile: {
      ...(args.contact.email ? { email: args.contact.email } : {}),
      ...(args.contact.phoneNumber ? { phone_number: args.contact.phoneNumber } : {}),
    },
    properties: args.properties,
    time,
    unique_id: args.uniqueId,
    backfill: args.n.source === 'backfill',
    intercom_contact_id: args.contact.contactId,
    source_notification_id: args.n.notificationId,
    source_topic: args.n.topic,
  };
}
