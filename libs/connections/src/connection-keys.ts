/** A record's key and connection_id under its connection: kept in libs/domain (libs that must not load Kafka use them too). */
export { connectionKey, withConnectionId } from '@iks/domain';
