import type { Message, Producer, RecordMetadata } from 'kafkajs';

interface Pending {
  readonly topic: string;
  readonly message: Message;
  readonly resolve: (m: RecordMetadata[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * kafkajs has no linger: each send() is one produce request. This collects the sends made
 * in the same tick (and while one request is in flight) into one sendBatch, so concurrent
 * webhooks share a request. Each caller's promise settles with the broker's ack (acks=all)
 * of its own message or the error of its batch.
 */
export class BatchingProducer {
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(private readonly producer: Producer, private readonly maxBatch = 2000) {}

  send(topic: string, message: Message): Promise<RecordMetadata[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, message, resolve, reject });
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
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) {
        const list = byTopic.get(p.topic) ?? [];
        list.push(p.message);
        byTopic.set(p.topic, list);
      }
      const meta = await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const p of batch) p.resolve(meta.filter((m) => m.topicName === p.topic));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  /** Resolves when everything queued so far has been acknowledged or failed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) await new Promise((r) => setTimeout(r, 5));
  }
}
