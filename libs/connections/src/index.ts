export * from './connection.types';
export { CONNECTIONS } from './connections.tokens';
export { ANY_WORKSPACE, defaultConnectionFromConfig } from './default-connection';
export { StaticConnections } from './static-connections';
