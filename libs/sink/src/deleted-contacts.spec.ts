import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DeletedContacts, deletionsResumePlan } from './deleted-contacts';

const TOPIC = 'p.klaviyo.deletions.v1';
const id = (i: number) => `6${i.toString(16).padStart(23, '0')}`; // Intercom contact ids are 24 hex characters

describe("DeletedContacts (the sink's store of deleted people)", () => {
  let dir: string;
  let path: string;
  const open: DeletedContacts[] = [];
  const openStore = (p = path, topic = TOPIC) => {
    const s = DeletedContacts.open(p, topic);
    open.push(s);
    return s;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iks-deleted-spec-'));
    path = join(dir, 'store');
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers exactly: a stored id is deleted, any other id (a prefix, another case) is not', () => {
    const s = openStore();
    s.add([id(1), id(2)]);
    s.apply(0, [id(3)], 10n);
    expect([id(1), id(2), id(3)].map((x) => s.has(x))).toEqual([true, true, true]);
    s.add(['64a1b2c3d4e5f60718293a4b']);
    expect(['64A1B2C3D4E5F60718293A4B', '64a1b2c3d4e5f60718293a4', id(4), ''].map((x) => s.has(x))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(s.size).toBe(4);
  });

  it('keeps the ids on disk, not on the heap: 200,000 deletions grow the heap by under 2 MB (a Set of them: over 10 MB)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const N = 200_000;
    const s = openStore();
    const before = heap();
    for (let i = 0; i < N; i += 1000)
      s.apply(
        i % 3,
        Array.from({ length: 1000 }, (_, j) => id(i + j)),
        BigInt(i + 1000),
      );
    for (let i = 0; i < N; i += 97) expect(s.has(id(i))).toBe(true);
    const grown = heap() - before;
    // the reference: what the old `new Set<string>()` held for the same ids
    const baseline = heap();
    const set = new Set<string>();
    for (let i = 0; i < N; i++) set.add(id(i));
    const setBytes = heap() - baseline;
    expect(set.size).toBe(N);
    expect(s.size).toBe(N);
    expect(setBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(grown).toBeLessThan(2 * 1024 * 1024);
  });

  it('a restart finds the ids and the offsets stored with them; an offset never moves back', async () => {
    const s = openStore();
    s.apply(0, [id(1)], 5n);
    s.apply(1, [id(2)], 3n);
    s.apply(0, [id(1)], 2n); // another process (or a first fetch from the beginning) behind this one
    await s.close();
    open.splice(0);
    const again = openStore();
    expect(again.rebuildReason).toBeUndefined();
    expect(again.offsets()).toEqual(
      new Map([
        [0, 5n],
        [1, 3n],
      ]),
    );
    expect(again.has(id(1)) && again.has(id(2))).toBe(true);
    again.resetOffsets();
    expect(again.offsets().size).toBe(0);
    expect(again.has(id(1))).toBe(true); // forgetting offsets never forgets a deletion
  });

  it('a missing store starts empty and says why (the topic is read from the beginning)', async () => {
    const s = openStore();
    s.apply(0, [id(1)], 1n);
    await s.close();
    open.splice(0);
    rmSync(path, { recursive: true, force: true });
    const fresh = openStore();
    expect(fresh.rebuildReason).toBe('no store yet');
    expect(fresh.offsets().size).toBe(0);
    expect(fresh.has(id(1))).toBe(false);
  });

  it('an unreadable store is moved aside, not deleted, and a new one is built', () => {
    // a folder whose lmdb data file is not an LMDB file
    const lmdb = join(path, 'lmdb');
    mkdirSync(lmdb, { recursive: true });
    writeFileSync(join(lmdb, 'data.mdb'), Buffer.alloc(64 * 1024, 0x5a));
    const s = openStore();
    expect(s.rebuildReason).toMatch(/could not be read/);
    expect(s.offsets().size).toBe(0);
    s.add([id(1)]);
    expect(s.has(id(1))).toBe(true);
    const aside = readdirSync(dir).filter((f) => f.startsWith('store.unreadable-'));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(dir, aside[0], 'lmdb', 'data.mdb'))).toBe(true);
  });

  it("refuses a folder that holds another topic's deletions, naming the variable", async () => {
    const s = openStore();
    s.add([id(1)]);
    expect(() => DeletedContacts.open(path, 'other.klaviyo.deletions.v1')).toThrow(
      /SINK_DELETED_CONTACTS_PATH.*other\.klaviyo\.deletions\.v1/,
    );
    await s.close();
    open.splice(0);
    expect(() => DeletedContacts.open(path, 'other.klaviyo.deletions.v1')).toThrow(/SINK_DELETED_CONTACTS_PATH/);
  });

  it('two runners in one process share one handle; closing one leaves the other working', async () => {
    const a = openStore();
    const b = openStore();
    a.add([id(7)]);
    expect(b.has(id(7))).toBe(true);
    await a.close();
    b.add([id(8)]);
    expect(b.has(id(7)) && b.has(id(8))).toBe(true);
  });
});

describe('deletionsResumePlan', () => {
  const topic = [
    { partition: 0, low: '0', high: '10' },
    { partition: 1, low: '5', high: '8' },
    { partition: 2, low: '0', high: '0' },
  ];

  it('resumes from the stored offsets, and from the start of a partition the store never read', () => {
    expect(
      deletionsResumePlan(
        new Map([
          [0, 7n],
          [1, 8n],
        ]),
        topic,
      ),
    ).toEqual({
      from: new Map([
        [0, 7n],
        [1, 8n],
        [2, 0n],
      ]),
      notes: [],
    });
  });

  it('records gone by retention: reads from the first offset left, keeps what it has, says so', () => {
    const plan = deletionsResumePlan(new Map([[1, 2n]]), topic);
    expect(plan.from.get(1)).toBe(5n);
    expect(plan.notes).toEqual([expect.stringMatching(/partition 1: records 2\.\.4 left the topic \(retention\)/)]);
  });

  it('a store ahead of the topic (recreated): reads the partition from its start', () => {
    const plan = deletionsResumePlan(new Map([[0, 11n]]), topic);
    expect(plan.from.get(0)).toBe(0n);
    expect(plan.notes).toEqual([expect.stringMatching(/partition 0: the store read to 11, the topic ends at 10/)]);
  });

  it('names a stored partition the topic does not have', () => {
    expect(deletionsResumePlan(new Map([[3, 1n]]), topic).notes).toEqual([expect.stringMatching(/partition 3/)]);
  });
});
