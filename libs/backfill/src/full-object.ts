import type { IntercomObject, PageOptions, SearchPage, SearchQuery } from '@iks/intercom';
import type { BackfillKind } from './backfill.types';

/**
 * The REST calls the derivation needs (IntercomClient has them); without the getters, search
 * items are derived as they are. The three kinds are read alike, as generic objects.
 */
export interface ObjectSource {
  search(kind: BackfillKind, query: SearchQuery, opts?: PageOptions): Promise<SearchPage<IntercomObject>>;
  getConversation?(id: string, signal?: AbortSignal): Promise<IntercomObject | undefined>;
  getTicket?(id: string, signal?: AbortSignal): Promise<IntercomObject | undefined>;
}

/**
 * A search item → the object with its parts. POST /conversations/search answers
 * conversation_list_items without conversation_parts; GET /conversations/{id} has them (the 500
 * most recent), GET /tickets/{id} the ticket_parts. An object deleted between the search and the
 * GET (404) is dropped: there is nothing left to derive from.
 */
export async function withParts(
  client: ObjectSource,
  kind: BackfillKind,
  item: IntercomObject,
  signal?: AbortSignal,
): Promise<IntercomObject | undefined> {
  if (kind === 'conversations' && client.getConversation) return client.getConversation(String(item.id), signal);
  if (kind === 'tickets' && client.getTicket) return client.getTicket(String(item.id), signal);
  return item;
}

/** withParts for a page, in parallel (the client's gate bounds the requests in flight). */
export async function pageWithParts(
  client: ObjectSource,
  kind: BackfillKind,
  items: readonly IntercomObject[],
  signal?: AbortSignal,
): Promise<IntercomObject[]> {
  const full = await Promise.all(items.map((i) => withParts(client, kind, i, signal)));
  return full.filter((o): o is IntercomObject => o !== undefined);
}
