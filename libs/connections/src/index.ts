export * from './connection.types';
export { StaticConnections } from './static-connections';
