import { topicName, type TopicKey } from '@iks/kafka';

/**
 * A topic named on the command line, with or without the configured TOPIC_PREFIX, resolved to
 * its registry key. Returns null when it is not one of `allowed`.
 */
export function resolveTopicArg(
  arg: string,
  prefix: string,
  allowed: readonly TopicKey[],
): { key: TopicKey; name: string } | null {
  const base = prefix && arg.startsWith(prefix) ? arg.slice(prefix.length) : arg;
  for (const key of allowed) {
    if (topicName(key) === base) return { key, name: topicName(key, prefix) };
  }
  return null;
}

export function topicList(prefix: string, allowed: readonly TopicKey[]): string {
  return allowed.map((k) => topicName(k, prefix)).join(', ');
}
