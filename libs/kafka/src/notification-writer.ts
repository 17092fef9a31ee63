import { Logger } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { RawNotification } from '@iks/domain';
import { AvroCodec, BatchingProducer, createKafka, createProducer, prepareStage, serdes, topicName } from '@iks/kafka';

export class KafkaUnavailableError extends Error {
  readonly retriable = true;
  constructor(message: string) {
    super(message);
    this.name = 'KafkaUnavailableError';
  }
}

/** Writes raw notifications to intercom.notifications.v1 with acks=all; answers only after the ack. */
export class NotificationWriter {
  private readonly logger = new Logger(NotificationWriter.name);
  private readonly producer: Producer;
  private readonly batching: BatchingProducer;
  private readonly codec: AvroCodec;
  private readonly topic: string;
  private connected = false;
  private inFlightBytes = 0;

  /**
   * `maxInFlightBytes` bounds the bodies waiting for Kafka's ack (a slow or absent broker must
   * not grow the heap without end): past it a webhook gets 503 at once and Intercom retries.
   */
  constructor(private readonly config: Config, private readonly maxInFlightBytes = 32 * 1024 * 1024) {
    const kafka = createKafka(config.kafka);
    this.producer = createProducer(kafka);
    this.producer.on('producer.connect', () => (this.connected = true));
    this.producer.on('producer.disconnect', () => (this.connected = false));
    this.batching = new BatchingProducer(this.producer);
    this.codec = new AvroCodec(config.kafka);
    this.topic = topicName('notifications', config.kafka.topicPrefix);
  }

  async start(): Promise<void> {
    await prepareStage(createKafka(this.config.kafka), this.config.kafka, this.codec, this.producer);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async registryReachable(): Promise<boolean> {
    try {
      const res = await fetch(`${this.config.kafka.schemaRegistryUrl}/subjects`, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  /** Resolves when Kafka acknowledged the write; rejects (KafkaUnavailableError) after the ack timeout. */
  async write(notification: RawNotification, key: string, timeoutMs = this.config.ingest.ackTimeoutMs): Promise<void> {
    const bytes = notification.body.length;
    if (this.inFlightBytes + bytes > this.maxInFlightBytes) {
      throw new KafkaUnavailableError(`${Math.round(this.inFlightBytes / 1024)} KiB of notifications already wait for Kafka's ack`);
    }
    const value = await this.codec.encode(this.topic, serdes.notificationToAvro(notification));
    this.inFlightBytes += bytes;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.batching.send(this.topic, { key, value }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new KafkaUnavailableError(`Kafka did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      if (e instanceof KafkaUnavailableError) throw e;
      throw new KafkaUnavailableError(`Kafka write failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.inFlightBytes -= bytes;
    }
  }

  async stop(): Promise<void> {
    await Promise.race([this.batching.drain(), new Promise((r) => setTimeout(r, 5000))]);
    await this.producer.disconnect();
    this.logger.log('producer flushed and disconnected');
  }
}
