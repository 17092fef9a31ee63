import { Secret } from '@iks/config';
import type { Connection, ConnectionStatus } from '@iks/connections';
import { routeOf, type RouteInput } from './routing';

function connection(status: ConnectionStatus = 'active'): Connection {
  return {
    id: 'acme',
    name: 'Acme',
    status,
    revision: 1,
    updatedAt: 0,
    fromEnvironment: false,
    intercom: {
      appId: 'x',
      region: 'US',
      apiBaseUrl: 'http://i',
      auth: 'token',
      clientSecret: null,
      accessToken: null,
    },
    klaviyo: {
      accountId: 'AcctAA',
      apiBaseUrl: 'http://k',
      auth: 'private_key',
      privateKey: new Secret('pk_x_0123456789'),
      oauth: null,
    },
    settings: { metricNames: {}, defaultPhoneRegion: null, deleteOnArchive: false },
  };
}

const closed = { state: 'closed' as const, reason: null, probeDue: false };
const base: RouteInput = {
  connectionId: 'acme',
  connection: connection(),
  recordKind: 'event',
  circuit: closed,
  draining: false,
  consumer: 'source',
};

describe('routeOf: where one record goes', () => {
  it('delivers a record of an active connection whose account answers', () => {
    expect(routeOf(base)).toEqual({ kind: 'deliver' });
  });

  it('dead-letters a record of an unknown or removed connection, naming it (replayable)', () => {
    const unknown = routeOf({ ...base, connection: undefined });
    expect(unknown.kind).toBe('dead_letter');
    expect(unknown.kind === 'dead_letter' && unknown.error).toMatchObject({
      code: 'connection_unknown',
      connectionId: 'acme',
    });
    expect(unknown.kind === 'dead_letter' && unknown.error.message).toMatch(/"acme" is not known/);
    const removed = routeOf({ ...base, connection: connection('removed') });
    expect(removed.kind === 'dead_letter' && removed.error.code).toBe('connection_removed');
  });

  it('parks the records of a paused connection, one that needs its account again, or has no credential', () => {
    expect(routeOf({ ...base, connection: connection('paused') })).toMatchObject({
      kind: 'park',
      reason: 'connection_paused',
    });
    expect(routeOf({ ...base, connection: connection('needs_reauth') })).toMatchObject({
      kind: 'park',
      reason: 'connection_needs_reauth',
    });
    expect(routeOf({ ...base, circuit: null })).toMatchObject({ kind: 'park', reason: 'no_credential' });
  });

  it('parks while the circuit is open or probing, and sends one record as the probe when it is due', () => {
    const open = { state: 'open' as const, reason: 'Klaviyo refuses the credential (401 x)', probeDue: false };
    expect(routeOf({ ...base, circuit: open })).toEqual({
      kind: 'park',
      reason: 'account_unavailable',
      detail: 'Klaviyo refuses the credential (401 x)',
    });
    expect(routeOf({ ...base, circuit: { ...open, probeDue: true } })).toEqual({ kind: 'probe' });
    expect(routeOf({ ...base, circuit: { ...open, state: 'half_open' } })).toMatchObject({ kind: 'park' });
  });

  it("while a connection drains, its profiles from the source topics go behind its parked ones; its events, its deletions and the parked consumer's profiles go on", () => {
    const draining = { ...base, draining: true };
    expect(routeOf({ ...draining, recordKind: 'profile' })).toMatchObject({ kind: 'park', reason: 'keeps_order' });
    expect(routeOf({ ...draining, recordKind: 'event' })).toEqual({ kind: 'deliver' });
    expect(routeOf({ ...draining, recordKind: 'deletion' })).toEqual({ kind: 'deliver' });
    expect(routeOf({ ...draining, recordKind: 'profile', consumer: 'parked' })).toEqual({ kind: 'deliver' });
  });
});
