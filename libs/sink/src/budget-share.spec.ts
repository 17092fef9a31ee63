import type { Kafka } from 'kafkajs';
import { ManualClock } from '@iks/retry';
import { KLAVIYO_RATE_LIMITS, RateBudget, type EndpointGroup } from '@iks/klaviyo';
import { AccountBudgets, DEFAULT_ACCOUNT } from './account-budgets';
import {
  BudgetShare,
  budgetKey,
  computeShares,
  decodeReport,
  idlePartitions,
  mergeHistory,
  type ShareReport,
} from './budget-share';

const limits = (g: EndpointGroup) => KLAVIYO_RATE_LIMITS[g];
const topics = { 'events-bulk': 'ev', 'data-privacy-deletion': 'del' } as const;

describe('computeShares', () => {
  it('splits each limit by the partitions of the topic feeding it, summing to the limit', () => {
    const s = computeShares(
      [
        { replica: 'a', partitions: { ev: [0, 2], del: [1] } },
        { replica: 'b', partitions: { ev: [1], del: [0, 2] } },
      ],
      topics,
      limits,
    );
    expect(s.get('a')!['events-bulk']).toEqual({ burst: 7, steady: 100 });
    expect(s.get('b')!['events-bulk']).toEqual({ burst: 3, steady: 50 });
    expect(s.get('a')!['data-privacy-deletion']).toEqual({ burst: 1, steady: 20 });
    expect(s.get('b')!['data-privacy-deletion']).toEqual({ burst: 2, steady: 40 });
  });

  it('gives nothing to a replica without partitions of the topic', () => {
    const s = computeShares(
      [
        { replica: 'a', partitions: { ev: [0, 1, 2] } },
        { replica: 'b', partitions: {} },
      ],
      topics,
      limits,
    );
    expect(s.get('a')!['events-bulk']).toEqual({ burst: 10, steady: 150 });
    expect(s.get('b')!['events-bulk']).toEqual({ burst: 0, steady: 0 });
  });

  it('three replicas of three partitions: 50/min each', () => {
    const s = computeShares(
      ['a', 'b', 'c'].map((r, i) => ({ replica: r, partitions: { ev: [i] } })),
      topics,
      limits,
    );
    expect([...s.values()].map((x) => x['events-bulk'].steady)).toEqual([50, 50, 50]);
    expect([...s.values()].map((x) => x['events-bulk'].burst).reduce((p, q) => p + q)).toBe(10);
  });
});

describe('unused share handed on at a rebalance', () => {
  it('an idle partition weighs a tenth: its owner keeps a little, the busy ones get the rest', () => {
    const members = ['a', 'b', 'c'].map((r, i) => ({ replica: r, partitions: { ev: [i], del: [i] } }));
    const s = computeShares(members, topics, limits, { ev: [2] });
    expect(['a', 'b', 'c'].map((r) => s.get(r)!['events-bulk'])).toEqual([
      { burst: 4, steady: 72 },
      { burst: 5, steady: 71 },
      { burst: 1, steady: 7 },
    ]);
    expect(s.get('c')!['data-privacy-deletion']).toEqual({ burst: 1, steady: 20 }); // deletions were not idle
  });

  it('a replica owning only idle partitions still gets at least 1 of each limit', () => {
    const members = ['a', 'b', 'c'].map((r, i) => ({ replica: r, partitions: { del: [i] } }));
    const s = computeShares(members, topics, limits, { del: [1, 2] });
    // deletions allow 3/s: proportionally 2.5 / 0.25 / 0.25, which would stop b and c
    expect(['a', 'b', 'c'].map((r) => s.get(r)!['data-privacy-deletion'].burst)).toEqual([1, 1, 1]);
    expect(['a', 'b', 'c'].map((r) => s.get(r)!['data-privacy-deletion'].steady)).toEqual([50, 5, 5]);
  });

  it('reports partitions owned for a whole minute with no request and nothing waiting', () => {
    const owned = { ev: [0, 2], del: [1] };
    const busy = new Set(['data-privacy-deletion']);
    expect(idlePartitions(owned, 0, 60_000, topics, (g) => busy.has(g))).toEqual({ ev: [0, 2] });
    expect(idlePartitions(owned, 0, 59_999, topics, () => false)).toEqual({}); // not owned long enough to tell
    expect(idlePartitions(owned, 0, 60_000, topics, () => true)).toEqual({});
  });
});

describe('mergeHistory', () => {
  const report = (replica: string, known: ShareReport['known'], shares: ShareReport['shares'] = {}): ShareReport => ({
    v: 1,
    replica,
    known,
    shares,
  });

  it("takes each live replica's own list, and the longest copy of a gone one's, plus its last share as spent now", () => {
    const { history } = mergeHistory(
      [
        report(
          'a',
          { a: { 'events-bulk': [1, 2, 3] }, c: { 'events-bulk': [5] } },
          { a: { 'events-bulk': { burst: 5, steady: 2 } }, c: { 'events-bulk': { burst: 5, steady: 2 } } },
        ),
        report('b', { b: { 'events-bulk': [4] }, a: { 'events-bulk': [1] }, c: { 'events-bulk': [5, 6] } }),
      ],
      new Set(['a', 'b']),
      100,
    );
    expect(history['events-bulk']).toEqual([1, 2, 3, 4, 5, 6, 100, 100]);
  });
});

describe('budget shares per Klaviyo account', () => {
  it('weighs the partitions of every topic feeding a group (a source topic and the parked one)', () => {
    const s = computeShares(
      [
        { replica: 'a', partitions: { ev: [0, 1, 2] } },
        { replica: 'b', partitions: { parked: [0, 1, 2] } },
      ],
      { 'events-bulk': ['ev', 'parked'] },
      limits,
    );
    // b owns no partition of the events topic but re-offers parked events: half the account's budget
    expect(s.get('a')!['events-bulk']).toEqual({ burst: 5, steady: 75 });
    expect(s.get('b')!['events-bulk']).toEqual({ burst: 5, steady: 75 });
  });

  it("reports each account's grants under <account>|<group> (the default account's as before), and holds every account's budget at a rebalance", async () => {
    const clock = new ManualClock(1_000_000); // no real timers left behind by the held budgets
    const budgets = new AccountBudgets(() => new RateBudget({ clock }));
    const share = new BudgetShare(budgets, {} as Kafka, 'g', { 'events-bulk': ['ev', 'parked'] }, () => clock.now());
    await budgets.get(DEFAULT_ACCOUNT).acquire('events-bulk');
    await budgets.get('AcctAA').acquire('events-bulk');
    await budgets.get('AcctAA').acquire('events-bulk');
    expect(budgetKey('AcctAA', 'events-bulk')).toBe('AcctAA|events-bulk');
    const assigner = share.assigner({ cluster: {} as never, groupId: 'g', logger: {} as never });
    const metadata = assigner.protocol({ topics: ['ev', 'parked'] }).metadata;
    const report = decodeReport(metadata)!;
    expect(Object.keys(report.known[share.replica]).sort()).toEqual(['AcctAA|events-bulk', 'events-bulk']);
    expect(report.known[share.replica]['AcctAA|events-bulk']).toHaveLength(2);
    expect(share.holding).toBe(true);
    // held: no account grants until its new share is set; an account first met now is held as well
    const waiting = [budgets.get('AcctAA'), budgets.get('AcctBB')].map((b) => {
      let granted = false;
      void b.acquire('events-bulk').then(() => (granted = true));
      return () => granted;
    });
    await clock.advance(120_000);
    expect(waiting.map((g) => g())).toEqual([false, false]);
  });
});
