import { CONTACT_AUTHOR_TYPES } from './event-contact.resolver';
import { toUnixSeconds } from './iso-time.util';
import { idString, isRecord } from './value.util';

/**
 * MAPPING.md "unique_id and time": for replies, the newest part in the payload whose
 * author is the contact (author type `user` or `lead`). Newest = greatest created_at,
 * ties to the later part in the list; a part needs an id and a created_at.
 */
export function newestContactPart(parts: readonly unknown[]): { id: string; createdAt: number } | undefined {
  let best: { id: string; createdAt: number } | undefined;
  for (const part of parts) {
    if (!isRecord(part) || !isRecord(part.author)) continue;
    const type = part.author.type;
    if (typeof type !== 'string' || !CONTACT_AUTHOR_TYPES.has(type)) continue;
    const id = idString(part.id);
    const createdAt = toUnixSeconds(part.created_at);
    if (id === undefined || createdAt === undefined) continue;
    if (!best || createdAt >= best.createdAt) best = { id, createdAt };
  }
  return best;
}
