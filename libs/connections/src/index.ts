export {
  CONNECTION_ID_PATTERN,
  DEFAULT_CONNECTION_ID,
  INTERCOM_REGION_API,
  connectionOf,
  type Connection,
  type ConnectionDirectory,
  type ConnectionSettings,
  type ConnectionStatus,
  type IntercomRegion,
  type IntercomSide,
  type KlaviyoOAuthGrant,
  type KlaviyoSide,
} from './connection.types';
export { CONNECTIONS } from './connections.tokens';
export { ANY_WORKSPACE, claimsAnyWorkspace, defaultConnectionFromConfig, webhookSecretsOf } from './default-connection';
export { StaticConnections } from './static-connections';
export { connectionKey, withConnectionId } from './connection-keys';
export {
  ConnectionSealer,
  UnsealError,
  NoSealingKeyError,
  additionalData,
  type SealedField,
  type SealedValue,
} from './sealing';
export {
  sealConnection,
  unsealConnection,
  sealedKeyIds,
  connectionIdProblem,
  ConnectionRecordError,
  type ConnectionRecord,
} from './connection-record';
export {
  ConnectionView,
  type ApplyOutcome,
  type ConnectionViewStats,
  type UnusableConnection,
} from './connection-view';
export { KafkaConnectionDirectory, type KafkaConnectionDirectoryOptions } from './kafka-connection-directory';
export {
  ConnectionStore,
  ConnectionChangeError,
  type ConnectionInput,
  type ConnectionStoreOptions,
  type ResealResult,
} from './connection-store';
export {
  ConnectionProbe,
  ProbeError,
  type IntercomWorkspace,
  type KlaviyoAccount,
  type ProbeClients,
} from './connection-probe';
export { ConnectionsModule, CONNECTION_SEALER } from './connections.module';
export { seedExamples } from './example-seed';
