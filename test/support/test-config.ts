import { randomBytes } from 'node:crypto';
import { loadConfig, type AppName, type Config } from '@iks/config';

/**
 * A key ring (CONNECTION_SECRET_KEYS) for this test process: the people's keys that seal raw
 * bodies (docs/ERASURE.md) are sealed under it; every config of one deployment in a spec passes it.
 */
export const TEST_KEY_RING = `test:${randomBytes(32).toString('base64')}`;

/** A fresh topic prefix and the group ids under it: nothing shared with other runs or tests. */
export function freshTopicEnv(tag = 't'): {
  TOPIC_PREFIX: string;
  TRANSFORMER_GROUP_ID: string;
  SINK_GROUP_ID: string;
} {
  const prefix = `${tag}${randomBytes(4).toString('hex')}.`;
  return { TOPIC_PREFIX: prefix, TRANSFORMER_GROUP_ID: `${prefix}transformer`, SINK_GROUP_ID: `${prefix}sink` };
}

/**
 * A config with fresh topics, on the cluster of `cluster` (default: the environment, see
 * services.global-setup.js).
 */
export function freshConfig(
  app: AppName,
  env: Record<string, string> = {},
  tag = 't',
  cluster: Record<string, string | undefined> = {},
): Config {
  return loadConfig(
    {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
      ...cluster,
      ...freshTopicEnv(tag),
      LOG_LEVEL: 'warn',
      // faster retries under test (kafkajs does the same): a failing slice is read again within 2 s
      STAGE_RETRY_INITIAL_MS: '100',
      STAGE_RETRY_MAX_MS: '2000',
      ...env,
    },
    app,
  );
}

/** A config for one test: the cluster from the environment (see services.global-setup.js), fresh topics. */
export function testConfig(app: AppName = 'cli', env: Record<string, string> = {}): Config {
  return freshConfig(app, env);
}
