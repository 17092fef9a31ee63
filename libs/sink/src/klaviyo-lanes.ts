import type { Connection, ConnectionDirectory, KlaviyoSide } from '@iks/connections';
import { DEFAULT_CONNECTION_ID } from '@iks/domain';
import { AccountCircuit, type AccountCircuitOptions, type KlaviyoDelivery, type RateBudget } from '@iks/klaviyo';
import { DEFAULT_ACCOUNT, type AccountBudgets } from './account-budgets';
import type { DrainGate, PartitionProgress } from './drain-gate';
import { routeOf, type Route, type RouteInput } from './routing';

/**
 * The Klaviyo account a connection delivers to, as the key of its rate budget: its account id
 * (GET /api/accounts), else the connection itself (the default connection's account is
 * `default`, as the single account was before connections).
 */
export function accountKeyOf(c: Connection): string {
  return c.klaviyo.accountId ?? (c.id === DEFAULT_CONNECTION_ID ? DEFAULT_ACCOUNT : `connection:${c.id}`);
}

/**
 * The Authorization header of a connection as the directory holds it: its private key, or the
 * Bearer token of its OAuth grant (the sink's requests of an OAuth connection go with the token
 * of its KlaviyoTokenSource, refreshed: klaviyo-token-sources.ts).
 */
export function authorizationOf(c: Connection): string {
  if (c.klaviyo.auth === 'oauth' && c.klaviyo.oauth) return `Bearer ${c.klaviyo.oauth.accessToken.reveal()}`;
  if (c.klaviyo.privateKey) return `Klaviyo-API-Key ${c.klaviyo.privateKey.reveal()}`;
  throw new Error(`connection "${c.id}" has no Klaviyo credential`);
}

function hasCredential(k: KlaviyoSide): boolean {
  return k.auth === 'oauth' ? k.oauth !== null : k.privateKey !== null;
}

/** The same way to Klaviyo. An OAuth grant's tokens are not compared: its token source follows them (a refresh keeps the lane). */
function sameKlaviyo(a: KlaviyoSide, b: KlaviyoSide): boolean {
  return (
    a.accountId === b.accountId &&
    a.apiBaseUrl === b.apiBaseUrl &&
    a.auth === b.auth &&
    a.privateKey?.reveal() === b.privateKey?.reveal() &&
    a.oauth?.clientId === b.oauth?.clientId
  );
}

/** One connection's way to Klaviyo: its client (its credential), its account's rate budget, its circuit. */
export class KlaviyoLane {
  /** Records this replica parked for the connection, and delivered from the parked topic. */
  parked = 0;
  unparked = 0;
  constructor(
    readonly connectionId: string,
    readonly account: string,
    readonly klaviyo: KlaviyoSide,
    readonly circuit: AccountCircuit,
    readonly delivery: KlaviyoDelivery,
  ) {}
}

export type MakeDelivery = (connection: Connection, budget: RateBudget, circuit: AccountCircuit) => KlaviyoDelivery;

/** How one connection stands, for readiness, metrics and the console. Never a secret. */
export interface ConnectionHealth {
  readonly connection: string;
  readonly name: string;
  readonly account: string;
  readonly status: Connection['status'];
  /** null: no record of it delivered by this replica yet. */
  readonly circuit: AccountCircuit['state'] | null;
  readonly reason: string | null;
  /** unix ms its circuit opened */
  readonly since: number | null;
  /** Its profiles wait behind its parked records. */
  readonly draining: boolean;
  readonly parked: number;
  readonly unparked: number;
  /** Can deliver now (or never tried); false while its circuit is open or half open. */
  readonly healthy: boolean;
}

/**
 * The sink's lanes, one per connection, made on first use from the ConnectionDirectory and made
 * again when the connection's Klaviyo side changes (a new key, another account); the budget is
 * per account (AccountBudgets), so two connections of one account share it.
 */
export class KlaviyoLanes {
  private readonly lanes = new Map<string, KlaviyoLane>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly directory: ConnectionDirectory,
    private readonly budgets: AccountBudgets,
    private readonly make: MakeDelivery,
    private readonly circuitOptions: AccountCircuitOptions,
    readonly gate: DrainGate,
    /** The parked partitions' progress as last read (null: not yet): a connection met first waits when its partition has a backlog. */
    private readonly snapshot: () => ReadonlyMap<number, PartitionProgress> | null = () => null,
    private readonly onCircuit: (lane: KlaviyoLane) => void = () => undefined,
  ) {
    this.unsubscribe = directory.onChange((current, previous) => {
      const lane = this.lanes.get(current.id);
      // connected again after needs_reauth: a fresh lane (its circuit, opened by the refused grant, closed)
      const reconnected = current.status === 'active' && previous?.status === 'needs_reauth';
      if (lane && (current.status === 'removed' || reconnected || !sameKlaviyo(lane.klaviyo, current.klaviyo)))
        this.lanes.delete(current.id);
      // resumed: its profiles wait behind what was parked meanwhile
      if (current.status === 'active' && previous && previous.status !== 'active') this.gate.begin(current.id);
    });
  }

  /** The lane of a connection that can have one (not removed, with a credential), made if needed. */
  lane(connectionId: string): KlaviyoLane | undefined {
    const c = this.directory.get(connectionId);
    if (!c || c.status === 'removed' || !hasCredential(c.klaviyo)) return undefined;
    let lane = this.lanes.get(connectionId);
    if (!lane) {
      const circuit = new AccountCircuit(this.circuitOptions);
      const account = accountKeyOf(c);
      lane = new KlaviyoLane(c.id, account, c.klaviyo, circuit, this.make(c, this.budgets.get(account), circuit));
      const made = lane;
      circuit.onChange((state) => {
        // the account answers again: its profiles wait behind what it parked
        if (state === 'closed') this.gate.begin(made.connectionId);
        this.onCircuit(made);
      });
      this.lanes.set(connectionId, lane);
      this.gate.meet(connectionId, this.snapshot());
    }
    return lane;
  }

  /** Where a record of `connectionId` goes now, and its lane. */
  route(
    connectionId: string,
    recordKind: RouteInput['recordKind'],
    consumer: RouteInput['consumer'],
  ): { route: Route; lane: KlaviyoLane | undefined } {
    const lane = this.lane(connectionId);
    const c = lane?.circuit;
    return {
      lane,
      route: routeOf({
        connectionId,
        connection: this.directory.get(connectionId),
        recordKind,
        circuit: c ? { state: c.state, reason: c.reason, probeDue: c.probeDue() } : null,
        draining: this.gate.holds(connectionId),
        consumer,
      }),
    };
  }

  /** Lanes made so far. */
  all(): KlaviyoLane[] {
    return [...this.lanes.values()];
  }

  /** Every connection (not removed) and how it stands on this replica. */
  health(): ConnectionHealth[] {
    return this.directory.all().map((c) => {
      const lane = this.lanes.get(c.id);
      const circuit = lane?.circuit.state ?? null;
      return {
        connection: c.id,
        name: c.name,
        account: lane?.account ?? accountKeyOf(c),
        status: c.status,
        circuit,
        reason:
          c.status === 'needs_reauth'
            ? 'needs_reauth: its Klaviyo OAuth grant cannot be refreshed; connect the account again'
            : (lane?.circuit.reason ??
              (c.status === 'active' ? (hasCredential(c.klaviyo) ? null : 'no Klaviyo credential') : c.status)),
        since: lane?.circuit.since ?? null,
        draining: this.gate.holds(c.id),
        parked: lane?.parked ?? 0,
        unparked: lane?.unparked ?? 0,
        healthy: c.status !== 'needs_reauth' && (circuit === null || circuit === 'closed'),
      };
    });
  }

  stop(): void {
    this.unsubscribe();
  }
}
