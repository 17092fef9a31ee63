import type { Connection } from '@iks/connections';
import type { CircuitState } from '@iks/klaviyo';
import type { ParkReason } from './parked-envelope';

/** A record of a connection the sink cannot route: removed, or unknown to its directory. A dead letter, replayable once the connection exists. */
export class ConnectionUnavailableError extends Error {
  override readonly name = 'ConnectionUnavailableError';
  readonly retriable = false;
  constructor(
    readonly code: 'connection_unknown' | 'connection_removed',
    readonly connectionId: string,
  ) {
    super(
      code === 'connection_removed'
        ? `connection "${connectionId}" was removed: its records are not delivered (reprocess this dead letter if it is added again)`
        : `connection "${connectionId}" is not known to this sink (never added, or removed and compacted away): reprocess this dead letter once it exists`,
    );
  }
}

export type Route =
  | { readonly kind: 'deliver' }
  /** The account's circuit is open and its probe is due: this one record goes alone. */
  | { readonly kind: 'probe' }
  | { readonly kind: 'park'; readonly reason: ParkReason; readonly detail: string }
  | { readonly kind: 'dead_letter'; readonly error: ConnectionUnavailableError };

export interface RouteInput {
  readonly connectionId: string;
  readonly connection: Connection | undefined;
  readonly recordKind: 'event' | 'profile' | 'deletion';
  /** The account's circuit, or null when the connection has no Klaviyo credential. */
  readonly circuit: { readonly state: CircuitState; readonly reason: string | null; readonly probeDue: boolean } | null;
  /** Profiles of the connection wait behind its parked ones (drain-gate.ts). */
  readonly draining: boolean;
  /** The consumer of the source topics parks behind the parked ones; the parked consumer delivers them. */
  readonly consumer: 'source' | 'parked';
}

/** Where one record goes (docs/CONNECTIONS.md, "Isolation in the sink"). Pure. */
export function routeOf(i: RouteInput): Route {
  const c = i.connection;
  if (!c) return { kind: 'dead_letter', error: new ConnectionUnavailableError('connection_unknown', i.connectionId) };
  if (c.status === 'removed')
    return { kind: 'dead_letter', error: new ConnectionUnavailableError('connection_removed', i.connectionId) };
  if (c.status === 'paused')
    return { kind: 'park', reason: 'connection_paused', detail: `connection "${c.id}" is paused` };
  if (c.status === 'needs_reauth')
    return {
      kind: 'park',
      reason: 'connection_needs_reauth',
      detail: `connection "${c.id}" needs its Klaviyo account connected again`,
    };
  if (!i.circuit)
    return { kind: 'park', reason: 'no_credential', detail: `connection "${c.id}" has no Klaviyo credential` };
  if (i.circuit.state === 'open' && i.circuit.probeDue) return { kind: 'probe' };
  if (i.circuit.state !== 'closed')
    return { kind: 'park', reason: 'account_unavailable', detail: i.circuit.reason ?? 'Klaviyo account unavailable' };
  if (i.recordKind === 'profile' && i.draining && i.consumer === 'source')
    return {
      kind: 'park',
      reason: 'keeps_order',
      detail: `connection "${c.id}": behind its parked profiles (per-person order)`,
    };
  return { kind: 'deliver' };
}
