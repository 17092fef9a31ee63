import type { Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import { AvroCodec, topic } from '@iks/kafka';
import { EXAMPLE_CONTACT_ID, exampleRecords } from '@iks/mapping';
import { connectionKey, withConnectionId } from './connection-keys';
import type { Connection } from './connection.types';

/**
 * CONNECTIONS_SEED_EXAMPLES: a new connection's example profile and one event of each of the nine
 * metrics (libs/mapping examples.ts), written to klaviyo.profiles.v1 and klaviyo.events.v1 as that
 * connection, so the sink delivers them with the connection's own credentials (its OAuth app's:
 * the nine metrics then show in Klaviyo under the app's name at once). Each is marked
 * `Example: true`; their unique_ids are fixed, so seeding twice adds nothing in Klaviyo.
 */
export async function seedExamples(
  deps: { readonly producer: Producer; readonly codec: AvroCodec },
  config: Config,
  connection: Connection,
  nowMs = Date.now(),
): Promise<{ readonly profiles: number; readonly events: number }> {
  const { profile, events } = exampleRecords(
    {
      metricNames: connection.settings.metricNames,
      deleteOnArchive: connection.settings.deleteOnArchive,
      ...(connection.settings.defaultPhoneRegion ? { defaultPhoneRegion: connection.settings.defaultPhoneRegion } : {}),
    },
    nowMs,
  );
  const key = connectionKey(connection.id, EXAMPLE_CONTACT_ID);
  const profiles = topic('profiles', config.kafka.topicPrefix);
  const eventsTopic = topic('events', config.kafka.topicPrefix);
  await deps.producer.sendBatch({
    acks: -1,
    topicMessages: [
      {
        topic: profiles.name,
        messages: [{ key, value: await deps.codec.encodeAs(profiles, withConnectionId(profile, connection.id)) }],
      },
      {
        topic: eventsTopic.name,
        messages: await Promise.all(
          events.map(async (e) => ({
            key,
            value: await deps.codec.encodeAs(eventsTopic, withConnectionId(e, connection.id)),
          })),
        ),
      },
    ],
  });
  return { profiles: 1, events: events.length };
}
