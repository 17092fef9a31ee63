/**
 * One Klaviyo account budget across the sink replicas of one consumer group, with the group
 * itself as the only coordination (no store besides Kafka).
 *
 * Klaviyo counts every request of an account in fixed 1 s and 60 s windows per endpoint group.
 * Each replica gets a share of each limit in proportion to the partitions it owns of the topic
 * that feeds the endpoint group (largest remainder, so the shares sum to the limit), recomputed
 * at every rebalance:
 * - when a rebalance starts (kafkajs asks the assigner for the member's JoinGroup metadata),
 *   the replica stops granting requests and puts the grants it made in the last minute, and the
 *   ones it learnt of from the other replicas at the last rebalance, into that metadata;
 * - once assigned, every replica reads the same group description from the coordinator
 *   (DescribeGroups: every member's metadata and assignment), computes every share and the
 *   account's history the same way, and resumes with `RateBudget.setShare`: in any window it
 *   grants at most its share of what that history leaves free, so the change of shares never
 *   lets Klaviyo see more than its limit either. The share is paced evenly over the window
 *   (README, Scaling: why an idle account's burst is not spent), so the account's budget flows
 *   all minute long and a partition taken over from a dead replica is served within seconds;
 * - a replica that vanished (SIGKILL, session timeout) cannot report: its last share is counted
 *   as spent just now, so its share is handed on one window later;
 * - unused share is handed on at the next rebalance: a replica reports the partitions it owned
 *   for a whole steady window without sending a single request (nothing waiting either); those
 *   weigh IDLE_WEIGHT of a busy partition in the next split. Every replica that owns partitions
 *   keeps at least 1 of each limit, so a partition that wakes up is slowed until the next
 *   rebalance, never stopped.
 * If the description cannot be read (or some member runs without this assigner), the replica
 * takes its partition share after one full window of silence, which is safe whatever the others did.
 *
 * Connections (docs/CONNECTIONS.md): Klaviyo counts per account, so there is one RateBudget per
 * account (AccountBudgets) and everything above happens per account. The split by partitions is
 * the same for every account (every account's records spread over the same partitions); grants,
 * history and shares are reported per `<account>|<group>` (the default account's as `<group>`,
 * as before, so a replica of the previous version is understood). A budget made between two
 * rebalances (an account's first record) takes this replica's share at once, with the history
 * the last rebalance reported for that account.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AssignerProtocol, PartitionAssigners, type Admin, type Kafka, type PartitionAssigner } from 'kafkajs';
import type { EndpointGroup, RateBudget, WindowLimits } from '@iks/klaviyo';
import { DEFAULT_ACCOUNT, type AccountBudgets } from './account-budgets';

export const BUDGET_ASSIGNER = 'IksBudgetRoundRobin';

/** Grants older than this are left out of reports: Klaviyo's steady window is 60 s. */
const REPORT_HORIZON_MS = 120_000;
/** A partition is idle after a whole steady window without a request for it. */
const IDLE_AFTER_MS = 60_000;
/** An idle partition's weight in the split, against 1 for a busy one. */
export const IDLE_WEIGHT = 0.1;
const DESCRIBE_ATTEMPTS = 6;
const DESCRIBE_RETRY_MS = 500;

type Shares = Record<string, WindowLimits>;

/** The topics that feed each endpoint group (the parked topic feeds them all). */
export type GroupTopics = Readonly<Partial<Record<EndpointGroup, string | readonly string[]>>>;

const topicsOf = (t: string | readonly string[] | undefined): readonly string[] =>
  t === undefined ? [] : typeof t === 'string' ? [t] : t;

/** How an account's endpoint group is named in reports: `<group>` for the default account (as before connections), else `<account>|<group>`. */
export function budgetKey(account: string, group: EndpointGroup): string {
  return account === DEFAULT_ACCOUNT ? group : `${account}|${group}`;
}

/** What a replica puts in its JoinGroup metadata (userData, JSON). */
export interface ShareReport {
  readonly v: 1;
  /** This replica's id (kafkajs member ids are not known before the first join). */
  readonly replica: string;
  /** Grant times per replica id and endpoint group: its own, and those it learnt at the last rebalance. */
  readonly known: Record<string, Record<string, number[]>>;
  /** Every replica's share at the last rebalance this one took part in. */
  readonly shares: Record<string, Shares>;
  /** Partitions per topic this replica owned for a whole steady window without sending a request for them. */
  readonly idle?: Record<string, number[]>;
}

export interface MemberPartitions {
  readonly replica: string;
  readonly partitions: Readonly<Record<string, readonly number[]>>;
}

/**
 * Each replica's share of each endpoint group's limits: proportional to the partitions it owns
 * of the group's topic out of all of them (an idle partition weighs IDLE_WEIGHT), floors first,
 * then the remainder one by one to the largest fractions (ties by replica id), so the shares sum
 * to exactly the limit; a replica that owns partitions but would get 0 takes 1 from the largest.
 */
export function computeShares(
  members: readonly MemberPartitions[],
  groupTopics: GroupTopics,
  limits: (group: EndpointGroup) => WindowLimits,
  idle: Readonly<Record<string, readonly number[]>> = {},
): Map<string, Shares> {
  const out = new Map<string, Shares>(members.map((m) => [m.replica, {}]));
  const ordered = [...members].sort((a, b) => (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0));
  for (const [group, fed] of Object.entries(groupTopics) as Array<[EndpointGroup, string | readonly string[]]>) {
    const owned = ordered.map((m) =>
      topicsOf(fed).reduce(
        (sum, topic) =>
          sum + (m.partitions[topic] ?? []).reduce((w, p) => w + (idle[topic]?.includes(p) ? IDLE_WEIGHT : 1), 0),
        0,
      ),
    );
    const total = owned.reduce((a, b) => a + b, 0);
    const lim = limits(group);
    const split = (limit: number): number[] => {
      if (total === 0) return owned.map(() => 0);
      const exact = owned.map((p) => (limit * p) / total);
      const share = exact.map(Math.floor);
      let left = limit - share.reduce((a, b) => a + b, 0);
      const byFraction = exact
        .map((x, i) => ({ i, f: x - Math.floor(x) }))
        .filter(({ i }) => owned[i] > 0)
        .sort((a, b) => b.f - a.f || a.i - b.i);
      for (const { i } of byFraction) {
        if (left <= 0) break;
        share[i]++;
        left--;
      }
      for (let i = 0; i < share.length; i++) {
        const largest = share.indexOf(Math.max(...share));
        if (owned[i] > 0 && share[i] === 0 && share[largest] > 1) {
          share[largest]--;
          share[i]++;
        }
      }
      return share;
    };
    const burst = split(lim.burst);
    const steady = split(lim.steady);
    ordered.forEach((m, i) => (out.get(m.replica)![group] = { burst: burst[i], steady: steady[i] }));
  }
  return out;
}

/**
 * The account's history per endpoint group as of `now`: for every replica, the longest list of
 * its grants anyone reported (its own report when it is alive), plus, for a replica of the last
 * rebalance that is gone, its whole steady share counted as granted at `now`.
 */
export function mergeHistory(
  reports: readonly ShareReport[],
  current: ReadonlySet<string>,
  now: number,
): { history: Record<string, number[]>; known: Record<string, Record<string, number[]>> } {
  const known: Record<string, Record<string, number[]>> = {};
  const reporters = new Set(reports.map((r) => r.replica));
  for (const r of reports) {
    for (const [replica, groups] of Object.entries(r.known)) {
      // a live replica's own list is the whole truth; of the others' copies keep the longest
      if (reporters.has(replica) && replica !== r.replica) continue;
      const into = (known[replica] ??= {});
      for (const [group, times] of Object.entries(groups))
        if (!into[group] || into[group].length < times.length) into[group] = [...times];
    }
  }
  // a gone replica's unknown last requests: its whole steady share, as if sent now (kept in
  // `known` so that a rebalance within the next minute still counts them)
  const counted = new Set<string>();
  for (const r of reports) {
    for (const [replica, shares] of Object.entries(r.shares)) {
      if (current.has(replica) || counted.has(replica)) continue;
      counted.add(replica);
      const into = (known[replica] ??= {});
      for (const [group, share] of Object.entries(shares))
        into[group] = [...(into[group] ?? []), ...Array.from({ length: share.steady }, () => now)];
    }
  }
  const history: Record<string, number[]> = {};
  for (const groups of Object.values(known))
    for (const [group, times] of Object.entries(groups)) (history[group] ??= []).push(...times);
  for (const times of Object.values(history)) times.sort((a, b) => a - b);
  return { history, known };
}

/**
 * The partitions this replica owned since `since` that had no request on any endpoint group
 * their topic feeds in the last IDLE_AFTER_MS, and nothing waiting for one; none if it has not
 * owned them that long.
 */
export function idlePartitions(
  owned: Readonly<Record<string, readonly number[]>>,
  since: number,
  now: number,
  groupTopics: GroupTopics,
  busy: (group: EndpointGroup) => boolean,
): Record<string, number[]> {
  if (now - since < IDLE_AFTER_MS) return {};
  const out: Record<string, number[]> = {};
  for (const [topic, partitions] of Object.entries(owned)) {
    const groups = (Object.keys(groupTopics) as EndpointGroup[]).filter((g) =>
      topicsOf(groupTopics[g]).includes(topic),
    );
    if (partitions.length && groups.length && !groups.some(busy)) out[topic] = [...partitions];
  }
  return out;
}

/** The JoinGroup metadata's userData as a report, or undefined (another assigner, or garbage). */
export function decodeReport(metadata: Buffer): ShareReport | undefined {
  try {
    const userData = AssignerProtocol.MemberMetadata.decode(metadata)?.userData;
    if (!userData?.length) return undefined;
    const r = JSON.parse(userData.toString('utf8')) as ShareReport;
    return r?.v === 1 && typeof r.replica === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Wires one consumer group's rebalances to the RateBudget of every account (see the file comment). */
export class BudgetShare {
  private readonly logger = new Logger(BudgetShare.name);
  readonly replica = randomUUID();
  private readonly groups: EndpointGroup[];
  private known: Record<string, Record<string, number[]>> = {};
  private shares: Record<string, Shares> = {};
  /** Bumped at every rebalance start: a share computed for an older one is dropped. */
  private epoch = 0;
  private admin?: Admin;
  private connected?: Promise<void>;
  private stopped = false;
  private held = false;
  /** The partitions of the last share, and since when. */
  private owned: Readonly<Record<string, readonly number[]>> = {};
  private ownedSince = 0;
  /** The last rebalance, for a budget made after it: every member's partitions, the idle ones, the account history. */
  private last:
    | { members: MemberPartitions[]; idle: Record<string, number[]>; history: Record<string, number[]> }
    | { fallback: Readonly<Record<string, readonly number[]>>; totals: ReadonlyMap<string, number>; at: number }
    | null = null;

  constructor(
    private readonly budgets: AccountBudgets,
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly groupTopics: GroupTopics,
    private readonly now: () => number = Date.now,
  ) {
    this.groups = Object.keys(groupTopics) as EndpointGroup[];
    budgets.onCreate((account, budget) => this.attach(account, budget));
  }

  /** Between a rebalance's start (JoinGroup) and this replica's new share: it grants nothing. */
  get holding(): boolean {
    return this.held;
  }

  /** This replica's share of each endpoint group of the default account, as set at the last rebalance. */
  get current(): Shares {
    const mine = this.shares[this.replica] ?? {};
    return Object.fromEntries(this.groups.filter((g) => mine[g]).map((g) => [g, mine[g]]));
  }

  /** This replica's share of `account`'s endpoint groups. */
  shareOf(account: string): Partial<Record<EndpointGroup, WindowLimits>> {
    const mine = this.shares[this.replica] ?? {};
    return Object.fromEntries(
      this.groups.filter((g) => mine[budgetKey(account, g)]).map((g) => [g, mine[budgetKey(account, g)]]),
    );
  }

  /** Round robin over all partitions, with the replica's report as JoinGroup metadata. */
  readonly assigner: PartitionAssigner = ({ cluster, groupId, logger }) => {
    const roundRobin = PartitionAssigners.roundRobin({ cluster, groupId, logger });
    return {
      name: BUDGET_ASSIGNER,
      version: 0,
      assign: (group) => roundRobin.assign(group),
      protocol: ({ topics }) => ({
        name: BUDGET_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics,
          userData: Buffer.from(JSON.stringify(this.rebalanceStarts())),
        }),
      }),
    };
  };

  /** StageConsumerSpec.onAssignment. */
  onAssignment(assignment: Readonly<Record<string, readonly number[]>>): void {
    const epoch = this.epoch;
    void this.resume(epoch, assignment).catch((e) =>
      this.logger.error(`budget share not applied: ${(e as Error).message}`),
    );
  }

  /** Connects the admin client that reads the group (early, so the first share is not delayed by it). */
  connect(): Promise<void> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin;
      this.connected = admin.connect().catch((e: unknown) => {
        this.admin = undefined;
        throw e;
      });
    }
    return this.connected!;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.admin?.disconnect().catch(() => undefined);
  }

  /** A budget made now (an account's first record): held during a rebalance, else this replica's share at once. */
  private attach(account: string, budget: RateBudget): void {
    if (this.held) {
      budget.hold(this.groups);
      return;
    }
    const last = this.last;
    if (!last) return; // before the first assignment: the first share is set for every budget then
    if ('members' in last) {
      const mine =
        computeShares(last.members, this.groupTopics, (g) => budget.limitsOf(g), last.idle).get(this.replica) ?? {};
      for (const group of this.groups) {
        const share = mine[group] ?? { burst: 0, steady: 0 };
        (this.shares[this.replica] ??= {})[budgetKey(account, group)] = share;
        budget.setShare(group, share, last.history[budgetKey(account, group)] ?? [], { paced: true });
      }
    } else this.fallBackShare(account, budget, last.fallback, last.totals, last.at);
  }

  /** Hold the budgets and report what this replica knows (kafkajs calls protocol() synchronously at JoinGroup). */
  private rebalanceStarts(): ShareReport {
    this.epoch++;
    this.held = true;
    const own: Record<string, number[]> = {};
    const waiting = new Set<EndpointGroup>();
    for (const [account, budget] of this.budgets.entries()) {
      for (const [group, times] of Object.entries(budget.hold(this.groups)))
        own[budgetKey(account, group as EndpointGroup)] = times;
      for (const g of this.groups) {
        const u = budget.usage(g);
        if (u.waitingLive + u.waitingBackfill > 0) waiting.add(g);
      }
    }
    const now = this.now();
    const idle = idlePartitions(this.owned, this.ownedSince, now, this.groupTopics, (g) => {
      if (waiting.has(g)) return true;
      for (const [account] of this.budgets.entries())
        if (own[budgetKey(account, g)]?.some((t) => now - t < IDLE_AFTER_MS)) return true;
      return false;
    });
    const cutoff = now - REPORT_HORIZON_MS;
    const known: Record<string, Record<string, number[]>> = {};
    for (const [replica, groups] of Object.entries(this.known)) {
      for (const [group, times] of Object.entries(groups)) {
        const recent = times.filter((t) => t > cutoff);
        if (recent.length) (known[replica] ??= {})[group] = recent;
      }
    }
    for (const [group, times] of Object.entries(own)) {
      const recent = times.filter((t) => t > cutoff);
      if (!recent.length) continue;
      const mine = (known[this.replica] ??= {});
      mine[group] = [...(mine[group] ?? []), ...recent];
    }
    return { v: 1, replica: this.replica, known, shares: this.shares, idle };
  }

  private async resume(epoch: number, assignment: Readonly<Record<string, readonly number[]>>): Promise<void> {
    let failures = 0;
    while (!this.stopped && epoch === this.epoch) {
      const outcome = await this.describe(assignment).catch((e: Error) => ({
        failed: `DescribeGroups failed: ${e.message}`,
      }));
      if (epoch !== this.epoch) return; // another rebalance began: its assignment resumes us
      if ('members' in outcome) return this.apply(outcome.members, outcome.reports);
      // still rebalancing: stay held; the in-flight batches give up (SinkRunner) and we rejoin
      if ('failed' in outcome && ++failures >= DESCRIBE_ATTEMPTS)
        return await this.fallBack(assignment, outcome.failed);
      await new Promise((r) => setTimeout(r, DESCRIBE_RETRY_MS));
    }
  }

  /** Every member's partitions and report, as the coordinator holds them; a string says why not. */
  private async describe(
    assignment: Readonly<Record<string, readonly number[]>>,
  ): Promise<{ members: MemberPartitions[]; reports: ShareReport[] } | { failed: string } | { rebalancing: string }> {
    await this.connect();
    const [group] = (await this.admin!.describeGroups([this.groupId])).groups;
    if (!group) return { failed: `group ${this.groupId} is missing` };
    if (group.state !== 'Stable') return { rebalancing: group.state };
    if (group.protocol !== BUDGET_ASSIGNER)
      return { failed: `group ${this.groupId} runs assigner ${group.protocol} (a member without budget shares)` };
    const members: MemberPartitions[] = [];
    const reports: ShareReport[] = [];
    for (const m of group.members) {
      const report = decodeReport(m.memberMetadata);
      if (!report) return { failed: `member ${m.memberId} sent no budget report` };
      reports.push(report);
      members.push({
        replica: report.replica,
        partitions: AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {},
      });
    }
    const me = members.find((m) => m.replica === this.replica);
    if (!me || !samePartitions(me.partitions, assignment))
      return { rebalancing: 'the group description is not of this generation yet' };
    return { members, reports };
  }

  private apply(members: MemberPartitions[], reports: ShareReport[]): void {
    const now = this.now();
    const idle: Record<string, number[]> = {};
    for (const r of reports)
      for (const [topic, partitions] of Object.entries(r.idle ?? {})) (idle[topic] ??= []).push(...partitions);
    const shares = new Map<string, Shares>(members.map((m) => [m.replica, {}]));
    for (const [account, budget] of this.budgets.entries()) {
      const split = computeShares(members, this.groupTopics, (g) => budget.limitsOf(g), idle);
      for (const [replica, byGroup] of split)
        for (const [group, share] of Object.entries(byGroup))
          shares.get(replica)![budgetKey(account, group as EndpointGroup)] = share;
    }
    const { history, known } = mergeHistory(reports, new Set(members.map((m) => m.replica)), now);
    this.known = known;
    this.shares = Object.fromEntries(shares);
    this.last = { members, idle, history };
    const mine = shares.get(this.replica) ?? {};
    this.owned = members.find((m) => m.replica === this.replica)?.partitions ?? {};
    this.ownedSince = now;
    this.held = false;
    for (const [account, budget] of this.budgets.entries())
      for (const group of this.groups)
        budget.setShare(
          group,
          mine[budgetKey(account, group)] ?? { burst: 0, steady: 0 },
          history[budgetKey(account, group)] ?? [],
          { paced: true },
        );
    const accounts = this.budgets.entries().map(([a]) => a);
    // the split is the same for every account: shown for one of them (the default account when it has a budget)
    const shown = accounts.includes(DEFAULT_ACCOUNT) ? DEFAULT_ACCOUNT : accounts[0];
    const of = (g: EndpointGroup) => (shown === undefined ? undefined : mine[budgetKey(shown, g)]);
    const bulk = of('events-bulk');
    const bulkKey = shown === undefined ? 'events-bulk' : budgetKey(shown, 'events-bulk');
    this.logger.log(
      `budget share of ${members.length} replica(s), ${accounts.length} account(s) yet${shown === undefined ? '' : ` (${shown} shown)`}: ` +
        `${this.groups.map((g) => `${g} ${of(g)?.burst ?? 0}/s ${of(g)?.steady ?? 0}/min`).join(', ')}` +
        (bulk
          ? ` (account history in the last minute: ${(history[bulkKey] ?? []).filter((t) => now - t < 60_000).length} bulk requests)`
          : '') +
        (Object.keys(idle).length
          ? `; idle partitions weigh ${IDLE_WEIGHT}: ${Object.entries(idle)
              .map(([t, ps]) => `${t} ${ps.join(',')}`)
              .join('; ')}`
          : ''),
    );
  }

  /** Own partitions out of the topics' partition counts, after one full window in which nothing is granted. */
  private async fallBack(assignment: Readonly<Record<string, readonly number[]>>, why: string): Promise<void> {
    const now = this.now();
    this.logger.warn(`${why}: taking the partition share after one steady window of silence`);
    const topics = [...new Set(Object.values(this.groupTopics).flatMap((t) => topicsOf(t)))];
    const totals = new Map<string, number>();
    try {
      if (!this.admin) throw new Error('no admin client');
      const { topics: meta } = await this.admin.fetchTopicMetadata({ topics });
      for (const t of meta) totals.set(t.name, t.partitions.length);
    } catch (e) {
      this.logger.warn(`no topic metadata either (${(e as Error).message}): a share of 1 per window`);
    }
    this.known = {};
    this.shares = {};
    this.owned = assignment;
    this.ownedSince = now;
    this.held = false;
    this.last = { fallback: assignment, totals, at: now };
    for (const [account, budget] of this.budgets.entries())
      this.fallBackShare(account, budget, assignment, totals, now);
  }

  private fallBackShare(
    _account: string,
    budget: RateBudget,
    assignment: Readonly<Record<string, readonly number[]>>,
    totals: ReadonlyMap<string, number>,
    at: number,
  ): void {
    for (const group of this.groups) {
      const fed = topicsOf(this.groupTopics[group]);
      const lim = budget.limitsOf(group);
      const total = fed.reduce((n, t) => n + (totals.get(t) ?? 0), 0);
      const p = fed.reduce((n, t) => n + (assignment[t]?.length ?? 0), 0);
      const share =
        p === 0
          ? { burst: 0, steady: 0 }
          : total === 0
            ? { burst: 1, steady: 1 }
            : {
                burst: Math.max(1, Math.floor((lim.burst * p) / total)),
                steady: Math.max(1, Math.floor((lim.steady * p) / total)),
              };
      // the whole window counted as spent from the fall-back on: safe whatever the others did
      budget.setShare(
        group,
        share,
        Array.from({ length: lim.steady }, () => at),
        { paced: true },
      );
    }
  }
}

function samePartitions(
  a: Readonly<Record<string, readonly number[]>>,
  b: Readonly<Record<string, readonly number[]>>,
): boolean {
  const norm = (x: Readonly<Record<string, readonly number[]>>) =>
    JSON.stringify(
      Object.keys(x)
        .filter((k) => x[k].length)
        .sort()
        .map((k) => [k, [...x[k]].sort((p, q) => p - q)]),
    );
  return norm(a) === norm(b);
}
