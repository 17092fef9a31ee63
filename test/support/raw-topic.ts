import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { RawNotification } from '@iks/domain';
import { ErasureModule, openShared, SubjectKeys } from '@iks/erasure';
import { AvroCodec, createKafka, notificationToAvro, PRODUCER, topicName, type TopicKey } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { waitFor } from './wait-for';

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

/**
 * Opens raw notifications' sealed bodies (docs/ERASURE.md) as the transformer does: the
 * people's keys of `config`'s deployment (its topics and key ring), followed. For specs that
 * read what a body says; a spec about the sealing itself reads the sealed bytes.
 */
export class BodyOpener {
  private constructor(
    private readonly app: INestApplicationContext,
    private readonly keys: SubjectKeys,
  ) {}

  static async start(config: Config): Promise<BodyOpener> {
    const app = await createContext(config, 'cli', ErasureModule);
    await app.get(AvroCodec).registerAll();
    await app.get<Producer>(PRODUCER).connect();
    const keys = app.get(SubjectKeys);
    await keys.start();
    return new BodyOpener(app, keys);
  }

  /** The body of `n`, opened when it is sealed. */
  async body(n: { readonly body: string; readonly body_sealed?: Buffer | null }): Promise<string> {
    return n.body_sealed ? (await openShared(this.keys, Buffer.from(n.body_sealed))).toString('utf8') : n.body;
  }

  async stop(): Promise<void> {
    await this.keys.stop();
    await this.app.get<Producer>(PRODUCER).disconnect();
    await this.app.close();
  }
}

/** A raw notification as read back: its body opened, `body_sealed` dropped (the seal is random). */
export interface RawRead {
  key: string;
  value: Omit<RawNotification, 'body_sealed'>;
  /** Its body was sealed on the topic (it names a contact). */
  sealed: boolean;
}

/**
 * Everything on `config`'s raw topic once at least `atLeast` records are there (and nothing more
 * came for a second), read with a fresh group, each body opened, so records compare by what they say.
 */
export async function readRawNotifications(config: Config, atLeast: number): Promise<RawRead[]> {
  const opener = await BodyOpener.start(config);
  const consumer = createKafka(config.kafka).consumer({ groupId: `${config.kafka.topicPrefix}check-${Date.now()}` });
  const codec = new AvroCodec(config.kafka);
  const seen: RawRead[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topicName('notifications', config.kafka.topicPrefix), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const { body_sealed, ...value } = await codec.decodeAs('notifications', message.value!);
        const body = await opener.body({ body: value.body, body_sealed });
        seen.push({ key: message.key!.toString(), value: { ...value, body }, sealed: !!body_sealed });
      },
    });
    await waitFor(() => seen.length >= atLeast, { what: `${atLeast} records`, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1000)); // nothing more should arrive
  } finally {
    await consumer.disconnect();
    await opener.stop();
  }
  return seen;
}

/**
 * Collects every record of some topics (fresh group, from the beginning), decoded; with an
 * opener, a raw notification's sealed body is opened into its `body` as it arrives.
 */
export class TopicTap {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  readonly records = new Map<string, Array<{ key: string | null; value: any; raw: KafkaMessage }>>();
  private consumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly group: string,
    private readonly opener?: BodyOpener,
  ) {
    this.consumer = kafka.consumer({ groupId: group });
  }

  async start(topics: string[]): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ topic, message }) => {
        const list = this.records.get(topic) ?? [];
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
        let value: any = message.value ? await this.codec.decode(message.value) : null;
        if (this.opener && value?.body_sealed) value = { ...value, body: await this.opener.body(value) };
        list.push({ key: message.key?.toString() ?? null, value, raw: message });
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
