import type { Kafka } from 'kafkajs';
import { connectionKey } from '@iks/connections';
import { readTopicRanges, topicName, topicOffsets, type AvroCodec } from '@iks/kafka';
import type { ProducedIndex } from './produced-index';

/** Where the produced records are read from: the context's Kafka and codec (KafkaModule) and the topic prefix. */
export interface ProducedTopics {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly topicPrefix: string;
}

/**
 * Brings the index up to date: reads what was appended to klaviyo.events.v1 and
 * klaviyo.profiles.v1 since the offsets stored with it (from the low watermark when none),
 * then saves ids and offsets together. Returns how many records were read.
 */
export async function updateProducedIndex(
  index: ProducedIndex,
  { kafka, codec, topicPrefix }: ProducedTopics,
): Promise<number> {
  const admin = kafka.admin();
  const eventsTopic = topicName('events', topicPrefix);
  let n = 0;
  await admin.connect();
  try {
    for (const topic of [eventsTopic, topicName('profiles', topicPrefix)]) {
      const marks = await topicOffsets(admin, topic);
      const ranges = marks.map((m) => {
        const low = BigInt(m.low);
        const stored = index.position(topic, m.partition);
        return { partition: m.partition, from: stored > low ? stored : low, to: BigInt(m.high) };
      });
      const records = await readTopicRanges(kafka, admin, topic, ranges);
      for (const { message } of records) {
        if (!message.value) continue;
        // A record the sink cannot read (not Avro, properties that are not JSON) is dead-lettered
        // there and never reaches Klaviyo: it is not "produced", and it must not stop the index.
        const decoded = (await codec.decode(message.value).catch(() => null)) as {
          unique_id?: unknown;
          intercom_contact_id?: unknown;
          updated_at?: number | null;
          connection_id?: string;
        } | null;
        if (topic === eventsTopic) {
          if (typeof decoded?.unique_id !== 'string') continue;
          index.addEvent(decoded.unique_id); // only the id: the properties are not parsed
        } else {
          if (typeof decoded?.intercom_contact_id !== 'string') continue;
          // per connection: two workspaces' contacts never share an entry (the default's key is the contact id, as before)
          index.addProfile(
            connectionKey(decoded.connection_id, decoded.intercom_contact_id),
            decoded.updated_at ?? null,
          );
        }
        n++;
      }
      for (const r of ranges) index.advance(topic, r.partition, r.to);
    }
  } finally {
    await admin.disconnect();
  }
  index.save();
  return n;
}
