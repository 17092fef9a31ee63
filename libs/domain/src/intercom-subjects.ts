/**
 * The people an Intercom notification body names: its subjects for crypto-shredding
 * (docs/ERASURE.md). Intercom (API 2.x, contracts/intercom) writes a person as an object whose
 * `type` is `contact` (the contact of a contact.* topic, `contacts.contacts[]` of a conversation
 * or ticket, `conversation_rating.contact`, the `contact` of a contact_tag or subscription) or
 * `user` / `lead` (the author of a source or of a conversation or ticket part written by the
 * contact; 1.x bodies' `user` and `customers[]`), its `id` the contact's id. Admins, bots, teams,
 * companies, tags are other types and name no one.
 *
 * The rule, anywhere in the body: an object with `"type"` one of those and an `"id"` that is a
 * string or a number (as JSON.parse gives the object: the last of duplicate keys wins). Ingest's
 * envelope scan (apps/ingest/src/webhook/envelope-scan.ts) applies the same rule to the bytes
 * without building the tree; its spec holds the two to the same answers.
 */
export const PERSON_TYPES: ReadonlySet<string> = new Set(['contact', 'user', 'lead']);

/** The contact ids `body` (a parsed JSON value) names, each once (in no promised order). */
export function contactIdsIn(body: unknown): string[] {
  const out = new Set<string>();
  // a stack, not recursion: a deeply nested body must not overflow the call stack
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    const id = o.id;
    if (typeof o.type === 'string' && PERSON_TYPES.has(o.type) && (typeof id === 'string' || typeof id === 'number'))
      out.add(String(id));
    for (const k in o) stack.push(o[k]);
  }
  return [...out];
}

/** As contactIdsIn, of the body's text; a body that is not JSON names no one (nothing to seal it under). */
export function contactIdsInText(text: string): string[] {
  try {
    return contactIdsIn(JSON.parse(text));
  } catch {
    return [];
  }
}
