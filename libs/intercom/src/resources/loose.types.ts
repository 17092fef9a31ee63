/**
 * Ids as webhook payloads may carry them: strings in 2.14, but some are integers
 * (a conversation's admin_assignee_id / team_assignee_id) and hand-built or older payloads use
 * numbers elsewhere.
 */
export type IntercomId = string | number;

/** The properties read as an IntercomId at any depth. */
type IdField = 'id' | 'admin_assignee_id' | 'team_assignee_id' | 'ticket_id';

/**
 * A resource as a webhook's `data.item` (of any API version, or a partial object) may hold it:
 * every property optional and nullable at every depth, literal unions widened to their primitive,
 * ids an IntercomId. What the mapping and the directory read: they must not break on what
 * Intercom leaves out. Objects the client or the emulator serve are assignable to it.
 */
export type Loose<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly (infer U)[]
        ? Loose<U>[]
        : T extends object
          ? { [K in keyof T]?: (K extends IdField ? IntercomId : Loose<T[K]>) | null }
          : T;
