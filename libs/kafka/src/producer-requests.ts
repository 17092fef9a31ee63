import type { CompressionTypes, Message, Producer } from 'kafkajs';

/**
 * Messages cut into runs of at most `maxBytes` of keys and values (a record alone may be larger):
 * one produce request must stay under the broker's limits (the topics' max.message.bytes is
 * 2 MiB), however large the slice a stage handled.
 */
export function chunksByBytes<T extends { key?: Buffer | string | null; value: Buffer | string | null }>(
  messages: readonly T[],
  maxBytes = 512 * 1024,
): T[][] {
  const out: T[][] = [];
  let run: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64;
    if (run.length > 0 && bytes + size > maxBytes) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(m);
    bytes += size;
  }
  if (run.length > 0) out.push(run);
  return out;
}

/** A message with the topic it goes to. */
export type TopicMessage = Message & { readonly topic: string };

/** How sendInBoundedRequests sends: see there. */
export interface BoundedSendOptions {
  /** Told, per request, how many messages went to each topic. */
  readonly onSent?: (topic: string, count: number) => void;
  /** A request's largest size in bytes (chunksByBytes); 1 MiB by default. */
  readonly maxBytes?: number;
  /** The batch codec; the producer's own (KAFKA_COMPRESSION) when not given. */
  readonly compression?: CompressionTypes;
}

/**
 * Produces `messages` in order (acks=all), in requests of at most `maxBytes` (chunksByBytes),
 * each request one sendBatch over the topics in it.
 */
export async function sendInBoundedRequests(
  producer: Producer,
  messages: readonly TopicMessage[],
  { onSent, maxBytes = 1024 * 1024, compression }: BoundedSendOptions = {},
): Promise<void> {
  for (const run of chunksByBytes(messages, maxBytes)) {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, ...message } of run) {
      const list = byTopic.get(topic);
      if (list) list.push(message);
      else byTopic.set(topic, [message]);
    }
    await producer.sendBatch({
      acks: -1,
      ...(compression === undefined ? {} : { compression }),
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
    if (onSent) for (const [topic, list] of byTopic) onSent(topic, list.length);
  }
}
