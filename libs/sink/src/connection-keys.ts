import { connectionOf, DEFAULT_CONNECTION_ID } from '@iks/domain';

/**
 * The key of a person in the sink's deleted-contacts set: an Intercom contact id is unique only
 * within its workspace, so `<connection>/<contact id>` for every connection but the default one,
 * whose ids stay as they were (a store written before connections keeps working).
 */
export function deletedKey(record: { readonly connection_id?: string; readonly intercom_contact_id: string }): string {
  const c = connectionOf(record);
  return c === DEFAULT_CONNECTION_ID ? record.intercom_contact_id : `${c}/${record.intercom_contact_id}`;
}

/**
 * The partition of the parked topic a connection's records go to: one partition per connection,
 * so its parked records stay in the order they were parked (FNV-1a of the id).
 */
export function parkedPartitionOf(connectionId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i++) {
    h ^= connectionId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % Math.max(1, partitions);
}
