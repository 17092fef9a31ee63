export * from './connection.types';
export { CONNECTIONS } from './connections.tokens';
export { ANY_WORKSPACE, claimsAnyWorkspace, defaultConnectionFromConfig, webhookSecretsOf } from './default-connection';
export { StaticConnections } from './static-connections';
export { connectionKey, withConnectionId } from './connection-keys';
