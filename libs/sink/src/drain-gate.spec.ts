import { deletedKey, parkedPartitionOf } from './connection-keys';
import { DrainGate, type PartitionProgress } from './drain-gate';

const snap = (entries: Array<[number, number, number]>): Map<number, PartitionProgress> =>
  new Map(entries.map(([p, committed, high]) => [p, { committed: BigInt(committed), high: BigInt(high) }]));

describe('DrainGate: profiles wait behind what was parked before', () => {
  const partitionOf = (id: string) => (id === 'a' ? 0 : 1);

  it('holds a recovered connection until the group committed past its last parked record and the end seen after the wait began', () => {
    const g = new DrainGate(partitionOf);
    g.parked('a', 10n);
    g.parked('a', 7n); // never moves back
    g.begin('a');
    expect(g.holds('a')).toBe(true);
    // the first snapshot after the wait began: another replica parked up to offset 14
    expect(g.update(snap([[0, 9, 15]]))).toEqual([]);
    g.parked('a', 16n); // parked while waiting (a profile behind the others): covered as well
    expect(g.update(snap([[0, 15, 17]]))).toEqual([]);
    expect(g.holds('a')).toBe(true);
    expect(g.update(snap([[0, 17, 20]]))).toEqual(['a']);
    expect(g.holds('a')).toBe(false);
  });

  it('a connection met first waits only when its partition has a backlog (or nothing is known yet)', () => {
    const g = new DrainGate(partitionOf);
    g.meet('a', snap([[0, 5, 5]]));
    expect(g.holds('a')).toBe(false);
    g.meet('b', snap([[1, 2, 5]]));
    expect(g.holds('b')).toBe(true);
    g.meet('a', null);
    expect(g.holds('a')).toBe(true);
    expect(
      g.update(
        snap([
          [0, 5, 5],
          [1, 4, 5],
        ]),
      ),
    ).toEqual(['a']);
    expect(g.waiting).toEqual(['b']);
  });
});

describe('connection keys', () => {
  it("keys a deleted contact by connection, the default connection's ids as before", () => {
    expect(deletedKey({ intercom_contact_id: 'c1' })).toBe('c1');
    expect(deletedKey({ connection_id: 'default', intercom_contact_id: 'c1' })).toBe('c1');
    expect(deletedKey({ connection_id: 'acme', intercom_contact_id: 'c1' })).toBe('acme/c1');
  });

  it('puts each connection on one parked partition, spread over all of them', () => {
    const ids = Array.from({ length: 60 }, (_, i) => `conn-${i}`);
    const parts = ids.map((id) => parkedPartitionOf(id, 6));
    expect(parts.every((p) => p >= 0 && p < 6)).toBe(true);
    expect(new Set(parts).size).toBe(6);
    expect(parkedPartitionOf('conn-7', 6)).toBe(parts[7]);
  });
});
