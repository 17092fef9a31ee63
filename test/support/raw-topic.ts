import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Config } from '@iks/config';
import type { RawNotification } from '@iks/domain';
import { AvroCodec, notificationToAvro, topicName, type TopicKey } from '@iks/kafka';

export const FIXTURES = join(__dirname, '..', '..', 'libs', 'mapping', 'fixtures');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
export function fixture(name: string): any {
  return JSON.parse(readFileSync(join(FIXTURES, 'notifications', `${name}.json`), 'utf8'));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
export function rawFromEnvelope(envelope: any, source: 'webhook' | 'backfill' = 'webhook'): RawNotification {
  return {
    notification_id: envelope.id,
    topic: envelope.topic,
    app_id: envelope.app_id,
    created_at: envelope.created_at,
    delivery_attempts: envelope.delivery_attempts ?? 1,
    first_sent_at: envelope.first_sent_at ?? null,
    received_at: Date.now(),
    source,
    body: JSON.stringify(envelope),
  };
}

/** Collects every record of some topics (fresh group, from the beginning), decoded. */
export class TopicTap {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  readonly records = new Map<string, Array<{ key: string | null; value: any; raw: KafkaMessage }>>();
  private consumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly group: string,
  ) {
    this.consumer = kafka.consumer({ groupId: group });
  }

  async start(topics: string[]): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ topic, message }) => {
        const list = this.records.get(topic) ?? [];
        list.push({
          key: message.key?.toString() ?? null,
          value: message.value ? await this.codec.decode(message.value) : null,
          raw: message,
        });
        this.records.set(topic, list);
      },
    });
  }

  of(topic: string) {
    return this.records.get(topic) ?? [];
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

export async function produceRaw(
  kafka: Kafka,
  codec: AvroCodec,
  config: Config,
  items: Array<RawNotification | Buffer>,
  key = 'k',
): Promise<void> {
  const topic = topicName('notifications', config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  for (const it of items) {
    const value = Buffer.isBuffer(it) ? it : await codec.encode(topic, notificationToAvro(it));
    await producer.send({ topic, acks: -1, messages: [{ key, value }] });
  }
  await producer.disconnect();
}

export function topicOf(config: Config, key: TopicKey): string {
  return topicName(key, config.kafka.topicPrefix);
}
