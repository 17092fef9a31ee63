import type { CompressionTypes, Message, Producer, RecordMetadata } from 'kafkajs';

interface Pending {
  readonly topic: string;
  readonly message: Message;
  readonly bytes: number;
  readonly resolve: (m: RecordMetadata[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * kafkajs has no linger: each send() is one produce request. This collects the sends made
 * in the same tick (and while one request is in flight) into one sendBatch, so concurrent
 * webhooks share a request. Each caller's promise settles with the broker's ack (acks=all)
 * of its own message or the error of its batch.
 *
 * A request carries at most `maxBatchBytes` of keys and values: the broker refuses a record
 * batch over the topic's max.message.bytes as a whole (MESSAGE_TOO_LARGE), which would fail
 * every webhook sharing it. A record larger than that share goes in a request of its own.
 */
export class BatchingProducer {
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly compression: CompressionTypes | undefined;

  constructor(
    private readonly producer: Producer,
    {
      maxBatch = 2000,
      maxBatchBytes = 1024 * 1024,
      compression,
    }: {
      maxBatch?: number;
      maxBatchBytes?: number;
      /** The requests' compression; default: the producer's (createProducer's GZIP). */
      compression?: CompressionTypes;
    } = {},
  ) {
    this.maxBatch = maxBatch;
    this.maxBatchBytes = maxBatchBytes;
    this.compression = compression;
  }

  /** Resolves with the batch's metadata for `topic` (an array shared by the batch's callers of that topic: do not change it). */
  send(topic: string, message: Message): Promise<RecordMetadata[]> {
    const bytes = sizeOf(message.key) + sizeOf(message.value);
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, message, bytes, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const batch = this.queue.splice(0, this.takeCount());
    try {
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) {
        const list = byTopic.get(p.topic) ?? [];
        list.push(p.message);
        byTopic.set(p.topic, list);
      }
      const meta = await this.producer.sendBatch({
        acks: -1,
        ...(this.compression === undefined ? {} : { compression: this.compression }),
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      // one array per topic, shared by that topic's callers (not one filter per message)
      const metaOf = new Map<string, RecordMetadata[]>();
      for (const topic of byTopic.keys())
        metaOf.set(
          topic,
          meta.filter((m) => m.topicName === topic),
        );
      for (const p of batch) p.resolve(metaOf.get(p.topic)!);
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  /** How many queued records the next request takes: at least one, within both bounds. */
  private takeCount(): number {
    let n = 0;
    let bytes = 0;
    for (const p of this.queue) {
      if (n > 0 && (n >= this.maxBatch || bytes + p.bytes > this.maxBatchBytes)) break;
      n++;
      bytes += p.bytes;
      if (bytes > this.maxBatchBytes) break; // an oversized first record goes alone
    }
    return n;
  }

  /** Resolves when everything queued so far has been acknowledged or failed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) await new Promise((r) => setTimeout(r, 5));
  }
}

function sizeOf(v: Message['key'] | Message['value']): number {
  if (v == null) return 0;
  return Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v);
}
