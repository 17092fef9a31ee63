export {
  loadConfig,
  Secret,
  ConfigError,
  type Config,
  type AppName,
  type KafkaConfig,
  type IngestConfig,
  type IntercomApiConfig,
  type TransformerConfig,
  type KlaviyoConfig,
  type KlaviyoOAuthAppConfig,
  type SinkConfig,
  type ReconcilerConfig,
  type ConnectionsConfig,
  type ConnectionSecretKey,
} from './config';
export { parseMetricNameOverrides } from './config';
export { LOCAL_DEV_CLIENT_SECRET, RAW_RECORD_HEADROOM_BYTES, isLoopbackHost } from './config';
export { ConfigModule, CONFIG } from './config.module';
export { publicUrlProblem, type ConsoleOAuthConfig, type OAuthRegion } from './config';
