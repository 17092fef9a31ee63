import type { Config } from '@iks/config';
import { AvroCodec, createKafka, ensureTopics } from '@iks/kafka';
import { retry } from '@iks/retry';

/**
 * Fresh topics and schemas for a bench or a test. A fresh topic's metadata can lag on a busy broker ("does not
 * host this topic-partition"): creation is tried up to five times. Returns the codec, schemas registered.
 */
export async function prepareFreshTopics(config: Config): Promise<AvroCodec> {
  const admin = createKafka(config.kafka).admin();
  await admin.connect();
  try {
    await retry(() => ensureTopics(admin, config.kafka), { retries: 4, initialMs: 1000, isRetriable: () => true });
  } finally {
    await admin.disconnect();
  }
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  return codec;
}
