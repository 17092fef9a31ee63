import { connectionKey, DEFAULT_CONNECTION_ID, withConnectionId } from '@iks/domain';
import type { BackfillRecord } from './backfill.types';
import type { BackfillSink } from './backfill.runner';

/** A record as the ingest writes it for `connectionId`: `connection_id` on it, its key `<connection id>/<key>` (the default: unchanged). */
export function taggedRecord(record: BackfillRecord, connectionId: string): BackfillRecord {
  return {
    key: connectionKey(connectionId, record.key),
    notification: withConnectionId(record.notification, connectionId),
  };
}

/**
 * Writes what a backfill or a heal derived from one connection's workspace as the ingest
 * writes that connection's webhooks (docs/CONNECTIONS.md "Keys"), so that the transformer maps
 * it with the connection's settings and the sink delivers it to the connection's account. The
 * default connection's records pass as they are.
 */
export function connectionSink(sink: BackfillSink, connectionId: string): BackfillSink {
  if (connectionId === DEFAULT_CONNECTION_ID) return sink;
  return { write: (records) => sink.write(records.map((r) => taggedRecord(r, connectionId))) };
}
