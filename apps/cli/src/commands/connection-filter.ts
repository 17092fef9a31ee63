import type { KafkaMessage } from 'kafkajs';
import { connectionOf, connectionOfKey, type DeadLetter } from '@iks/domain';
import { DLQ_SOURCES, RecordDecodeError, topicName, type AvroCodec, type TopicKey } from '@iks/kafka';

/** A record's connection: its `connection_id` (absent: the default), or its key's `<connection id>/` prefix when it does not decode. */
export async function connectionOfRecord(
  codec: Pick<AvroCodec, 'decodeAs'>,
  topic: TopicKey,
  message: Pick<KafkaMessage, 'key' | 'value'>,
): Promise<string> {
  try {
    return connectionOf((await codec.decodeAs(topic, message.value)) as { readonly connection_id?: string });
  } catch (e) {
    if (!(e instanceof RecordDecodeError)) throw e; // the registry cannot answer: the command fails (exit 1)
    return connectionOfKey(message.key);
  }
}

/**
 * The connection of a dead letter's original record: decoded against its original topic's
 * schema (the topic named by the letter, with this pipeline's prefix), else by its key.
 */
export async function connectionOfLetter(
  codec: Pick<AvroCodec, 'decodeAs'>,
  prefix: string,
  letter: Pick<DeadLetter, 'original_topic' | 'key' | 'value'>,
): Promise<string> {
  const topic = DLQ_SOURCES.find((k) => topicName(k, prefix) === letter.original_topic);
  if (!topic || !letter.value) return connectionOfKey(letter.key);
  return connectionOfRecord(codec, topic, { key: letter.key, value: letter.value });
}

/** How many of `connections` are `id`'s and how many another's. */
export function splitCount(connections: readonly string[], id: string): { mine: number; others: number } {
  const mine = connections.filter((c) => c === id).length;
  return { mine, others: connections.length - mine };
}
