import { MappingError } from './mapping.error';
import { isRecord } from './value.util';

const BARE_ITEM_TYPES: ReadonlySet<string> = new Set(['conversation', 'ticket', 'contact', 'contact_tag']);

/**
 * The object a notification is about: Intercom's webhook envelope is
 * `{ type: "notification_event", topic, id, created_at, data: { type: "notification_event_data", item } }`.
 * A JSON string body is parsed. Throws MappingError when there is no object item.
 */
export function notificationItem(body: unknown): Record<string, unknown> {
  let parsed = body;
  if (typeof parsed === 'string') {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      throw new MappingError('notification body is not valid JSON', 'invalid_payload');
    }
  }
  if (!isRecord(parsed)) throw new MappingError('notification body is not a JSON object', 'invalid_payload');
  // A bare Intercom object (no envelope) is accepted as the item: a backfill may record
  // the object exactly as GET /conversations/{id} returned it.
  if (parsed.data === undefined && typeof parsed.type === 'string' && BARE_ITEM_TYPES.has(parsed.type)) return parsed;
  const data = parsed.data;
  if (!isRecord(data)) throw new MappingError('notification has no data object', 'missing_item');
  const item = data.item;
  if (!isRecord(item)) throw new MappingError('notification data.item is missing or not an object', 'missing_item');
  return item;
}
