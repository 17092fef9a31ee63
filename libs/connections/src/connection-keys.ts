import { DEFAULT_CONNECTION_ID } from '@iks/domain';

/**
 * A record's Kafka key under its connection (docs/CONNECTIONS.md, "Keys"): the default
 * connection keeps today's key; another connection's key is `<connection id>/<today's key>`, so
 * one entity's records stay on one partition and two workspaces' ids never share a key (the
 * compacted contacts topic). Connection ids have no `/` (CONNECTION_ID_PATTERN).
 */
export function connectionKey(connectionId: string | undefined, key: string): string {
  return connectionId === undefined || connectionId === DEFAULT_CONNECTION_ID ? key : `${connectionId}/${key}`;
}

/**
 * `record` tagged with its connection: `connection_id` set for any connection but the default,
 * left absent for the default (absent means default, as the topics' decoders give it back).
 */
export function withConnectionId<T extends { readonly connection_id?: string }>(record: T, connectionId: string): T {
  if (connectionId === DEFAULT_CONNECTION_ID) {
    if (record.connection_id === undefined) return record;
    const { connection_id: _dropped, ...rest } = record;
    return rest as T;
  }
  return record.connection_id === connectionId ? record : { ...record, connection_id: connectionId };
}
