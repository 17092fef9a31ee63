import type { KafkaConfig } from '@iks/config';
import { AvroCodec, createKafka, readTopicRanges, serdes, topicName, topicOffsets } from '@iks/kafka';
import type { ProducedIndex } from '@iks/backfill';

/**
 * Brings the index up to date: reads what was appended to klaviyo.events.v1 and
 * klaviyo.profiles.v1 since the offsets stored with it (from the low watermark when none),
 * then saves ids and offsets together. Returns how many records were read.
 */
export async function updateProducedIndex(kafkaConfig: KafkaConfig, index: ProducedIndex, codec = new AvroCodec(kafkaConfig)): Promise<number> {
  const kafka = createKafka(kafkaConfig);
  const admin = kafka.admin();
  const eventsTopic = topicName('events', kafkaConfig.topicPrefix);
  let n = 0;
  await admin.connect();
  try {
    for (const topic of [eventsTopic, topicName('profiles', kafkaConfig.topicPrefix)]) {
      const marks = await topicOffsets(admin, topic);
      const ranges = marks.map((m) => {
        const low = BigInt(m.low);
        const stored = index.position(topic, m.partition);
        return { partition: m.partition, from: stored > low ? stored : low, to: BigInt(m.high) };
      });
      const records = await readTopicRanges(kafka, admin, topic, ranges);
      for (const { message } of records) {
        if (!message.value) continue;
        const decoded = await codec.decode(message.value);
        if (topic === eventsTopic) index.addEvent(serdes.eventFromAvro(decoded).unique_id);
        else {
          const p = serdes.profileFromAvro(decoded);
          index.addProfile(p.intercom_contact_id, p.updated_at);
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
