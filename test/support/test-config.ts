import { randomBytes } from 'node:crypto';
import { loadConfig, type AppName, type Config } from '@iks/config';

/** A config for one test: the cluster from the environment (see services.global-setup.js), fresh topics. */
export function testConfig(app: AppName = 'cli', env: Record<string, string> = {}): Config {
  const prefix = `t${randomBytes(4).toString('hex')}.`;
  return loadConfig(
    {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
      TOPIC_PREFIX: prefix,
      TRANSFORMER_GROUP_ID: `${prefix}transformer`,
      SINK_GROUP_ID: `${prefix}sink`,
      LOG_LEVEL: 'warn',
      ...env,
    },
    app,
  );
}
