import type { Kafka } from 'kafkajs';
import { waitFor } from './wait-for';

/** Every record of every topic under `prefix`, as bytes (key, value, headers): the topics holding any of `needles` (as is or base64). */
export async function scanTopics(kafka: Kafka, prefix: string, needles: readonly string[]): Promise<string[]> {
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const topics = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(prefix));
  let total = 0;
  for (const t of topics)
    for (const p of await kafkaAdmin.fetchTopicOffsets(t)) total += Number(p.high) - Number(p.low);
  await kafkaAdmin.disconnect();
  const consumer = kafka.consumer({ groupId: `${prefix}secret-scan-${Date.now()}` });
  const hits = new Set<string>();
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const forms = needles.flatMap((s) => [Buffer.from(s), Buffer.from(Buffer.from(s).toString('base64'))]);
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      seen++;
      for (const bytes of [message.key, message.value, ...Object.values(message.headers ?? {})]) {
        if (!Buffer.isBuffer(bytes)) continue;
        if (forms.some((f) => bytes.includes(f))) hits.add(topic);
      }
    },
  });
  await waitFor(() => seen >= total, { timeoutMs: 60_000, what: `all ${total} records of ${topics.length} topics` });
  await consumer.disconnect();
  return [...hits];
}

/**
 * Everything written to stdout and stderr from now on, kept in `into` (to scan the apps' log lines
 * for secrets); `forward` says which writes still reach the test's output (default: all).
 * Returns the function that puts the streams back.
 */
export function captureOutput(into: string[], forward: (text: string) => boolean = () => true): () => void {
  const restore: Array<() => void> = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
      into.push(text);
      return forward(text) ? write(chunk, ...rest) : true;
    }) as typeof stream.write;
    restore.push(() => (stream.write = write as typeof stream.write));
  }
  return () => {
    for (const r of restore.splice(0)) r();
  };
}
