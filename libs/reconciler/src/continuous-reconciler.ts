import { Logger } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DEFAULT_CONNECTION_ID, type PipelineOutage, type ReconcileReportRecord } from '@iks/domain';
import type { IntercomClient } from '@iks/intercom';
import { metricOnce } from '@iks/stage';
import { BACKFILL_KINDS, type BackfillKind, type BackfillSink, type ObjectSource } from '@iks/backfill';
import type { ProducedIndex } from './produced-index';
import { reconcile, type ReconcileReport } from './reconcile';

export type ReconcileTrigger = 'schedule' | 'outage';

export interface ContinuousOptions {
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly settleMs: number;
  readonly outageMarginMs: number;
  /** The notifications' workspace id; null: GET /me. */
  readonly appId: string | null;
  readonly kinds?: readonly BackfillKind[];
  /** The connection whose workspace this loop reconciles (default: the default connection); a label of its metrics. */
  readonly connectionId?: string;
}

export interface ContinuousDeps {
  readonly intercom: ObjectSource & Partial<Pick<IntercomClient, 'me'>>;
  readonly index: ProducedIndex;
  /** Where healed notifications go (the raw topic, source reconcile). */
  readonly sink: BackfillSink;
  /** Reads what the pipeline produced since the index's offsets (Kafka). */
  readonly refreshIndex: () => Promise<number>;
  /** After an outage window is reconciled (the runner tombstones its marker). */
  readonly outageDone?: (key: string) => Promise<void>;
  /** Each window's report (ok or failed), for pipeline.reconcile.v1; a failure to publish is logged, not fatal. */
  readonly publishReport?: (report: Omit<ReconcileReportRecord, 'reporter'>) => Promise<void>;
  readonly registry: Registry;
  readonly now?: () => number;
}

interface Failure {
  readonly at: number;
  readonly reason: string;
}

/**
 * Continuous mode of `reconcile --heal` (issue #12): every `intervalMs` the window
 * [now − windowMs, now − settleMs) is compared with what the pipeline produced and what is missing
 * is healed; an outage ingest reported (pipeline.outages.v1) is reconciled over
 * [since − outageMarginMs, until) once Intercom's one retry after it has had time to arrive
 * (`until + settleMs`). Runs one window at a time. Readiness is red, naming the reason, while
 * Intercom or Kafka cannot be used.
 */
export class ContinuousReconciler {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly kinds: readonly BackfillKind[];
  private appId: string | null;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly outageTimers = new Map<string, NodeJS.Timeout>();
  private readonly pendingOutages = new Map<string, PipelineOutage>();
  private stopped = false;
  private tickQueued = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private intercomFailure: Failure | null;
  private kafkaFailure: Failure | null = null;
  private lastWindow: { since: number; until: number; trigger: ReconcileTrigger; at: number } | null = null;
  private readonly missing: Counter<'metric' | 'trigger' | 'connection'>;
  private readonly healed: Counter<'metric' | 'trigger' | 'connection'>;
  private readonly runs: Counter<'trigger' | 'outcome' | 'connection'>;
  private readonly windowEdge: Gauge<'edge' | 'connection'>;
  private readonly outagesPending: Gauge<'connection'>;
  /** The connection reconciled (DEFAULT_CONNECTION_ID unless given). */
  readonly connectionId: string;

  constructor(
    private readonly options: ContinuousOptions,
    private readonly deps: ContinuousDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.kinds = options.kinds ?? BACKFILL_KINDS;
    this.appId = options.appId;
    this.connectionId = options.connectionId ?? DEFAULT_CONNECTION_ID;
    this.logger = new Logger(
      this.connectionId === DEFAULT_CONNECTION_ID
        ? ContinuousReconciler.name
        : `${ContinuousReconciler.name}:${this.connectionId}`,
    );
    this.intercomFailure = { at: this.now(), reason: 'not contacted yet' };
    const registers = [deps.registry];
    this.missing = metricOnce(
      deps.registry,
      'iks_reconcile_missing_total',
      () =>
        new Counter({
          name: 'iks_reconcile_missing_total',
          help: 'Notifications Intercom holds that the pipeline never produced, found by reconcile, by metric (Profiles for contacts), trigger and connection.',
          labelNames: ['metric', 'trigger', 'connection'],
          registers,
        }),
    );
    this.healed = metricOnce(
      deps.registry,
      'iks_reconcile_healed_total',
      () =>
        new Counter({
          name: 'iks_reconcile_healed_total',
          help: 'Missing notifications written to the raw topic (source reconcile), by metric, trigger and connection.',
          labelNames: ['metric', 'trigger', 'connection'],
          registers,
        }),
    );
    this.runs = metricOnce(
      deps.registry,
      'iks_reconcile_runs_total',
      () =>
        new Counter({
          name: 'iks_reconcile_runs_total',
          help: 'Reconciled windows, by trigger (schedule, outage), outcome (ok, failed) and connection.',
          labelNames: ['trigger', 'outcome', 'connection'],
          registers,
        }),
    );
    this.windowEdge = metricOnce(
      deps.registry,
      'iks_reconcile_last_window_seconds',
      () =>
        new Gauge({
          name: 'iks_reconcile_last_window_seconds',
          help: 'The last window reconciled without error, per connection: its since and until (unix seconds).',
          labelNames: ['edge', 'connection'],
          registers,
        }),
    );
    this.outagesPending = metricOnce(
      deps.registry,
      'iks_reconcile_outages_pending',
      () =>
        new Gauge({
          name: 'iks_reconcile_outages_pending',
          help: 'Outage windows reported by ingest and not reconciled yet, per connection.',
          labelNames: ['connection'],
          registers,
        }),
    );
  }

  /** Reconciles the recent window now, then every intervalMs. */
  start(): void {
    this.stopped = false;
    this.scheduleTick();
    this.timer = setInterval(() => this.scheduleTick(), this.options.intervalMs);
  }

  /** An outage ingest reported (or its tombstone: null). */
  outage(key: string, outage: PipelineOutage | null): void {
    clearTimeout(this.outageTimers.get(key));
    this.outageTimers.delete(key);
    if (!outage) {
      this.pendingOutages.delete(key);
    } else {
      this.pendingOutages.set(key, outage);
      const due = outage.until + this.options.settleMs - this.now();
      const t = setTimeout(
        () => {
          this.outageTimers.delete(key);
          this.enqueue(() => this.runOutage(key));
        },
        Math.max(0, due),
      );
      this.outageTimers.set(key, t);
    }
    this.outagesPending.set({ connection: this.connectionId }, this.pendingOutages.size);
  }

  /** Resolves when the windows queued so far are done. */
  idle(): Promise<void> {
    return this.chain;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.retryTimer ?? undefined);
    for (const t of this.outageTimers.values()) clearTimeout(t);
    this.outageTimers.clear();
    await this.chain;
  }

  /** Removes this loop's series from the metrics (its connection was removed). */
  dropMetrics(): void {
    const connection = this.connectionId;
    for (const edge of ['since', 'until']) this.windowEdge.remove({ edge, connection });
    this.outagesPending.remove({ connection });
  }

  readiness() {
    const intercom = this.intercomFailure
      ? {
          up: false,
          detail: {
            reason: `cannot reach Intercom: ${this.intercomFailure.reason}`,
            since: iso(this.intercomFailure.at),
          },
        }
      : { up: true, detail: {} };
    const kafka = this.kafkaFailure
      ? {
          up: false,
          detail: {
            reason: `cannot read or write Kafka: ${this.kafkaFailure.reason}`,
            since: iso(this.kafkaFailure.at),
          },
        }
      : { up: true, detail: {} };
    const w = this.lastWindow;
    return {
      intercom,
      kafka,
      reconcile: {
        up: true,
        detail: w
          ? { since: iso(w.since * 1000), until: iso(w.until * 1000), trigger: w.trigger, at: iso(w.at) }
          : { lastWindow: null },
      },
    };
  }

  /** The last window reconciled without error (unix seconds), for tests and the CLI. */
  get last(): { since: number; until: number; trigger: ReconcileTrigger } | null {
    return this.lastWindow;
  }

  private scheduleTick(): void {
    // a run longer than the interval: the next starts when it ends, its window still reaching back windowMs
    if (this.tickQueued) return;
    this.tickQueued = true;
    this.enqueue(async () => {
      this.tickQueued = false;
      const now = this.now();
      const ok = await this.run(
        'schedule',
        Math.floor((now - this.options.windowMs) / 1000),
        Math.floor((now - this.options.settleMs) / 1000),
      );
      // Intercom or Kafka away: try again within a minute rather than a whole interval, so readiness turns green soon after
      if (!ok && !this.stopped) {
        clearTimeout(this.retryTimer ?? undefined);
        this.retryTimer = setTimeout(() => this.scheduleTick(), Math.min(this.options.intervalMs, 60_000));
      }
      // an outage whose run failed is tried again with the schedule
      for (const key of this.pendingOutages.keys()) if (!this.outageTimers.has(key)) await this.runOutage(key);
    });
  }

  private enqueue(job: () => Promise<unknown>): void {
    this.chain = this.chain
      .then(() => (this.stopped ? undefined : job()))
      .then(
        () => undefined,
        (e) => {
          this.logger.error(`reconcile job failed: ${(e as Error).message}`);
        },
      );
  }

  private async runOutage(key: string): Promise<void> {
    const o = this.pendingOutages.get(key);
    if (!o) return;
    const since = Math.floor((o.since - this.options.outageMarginMs) / 1000);
    const until = Math.ceil(o.until / 1000) + 1;
    if (await this.run('outage', since, until, key)) {
      this.pendingOutages.delete(key);
      this.outagesPending.set({ connection: this.connectionId }, this.pendingOutages.size);
      await this.deps
        .outageDone?.(key)
        .catch((e) =>
          this.logger.warn(
            `outage ${key} reconciled; its marker was not tombstoned (${(e as Error).message}): it will be reconciled again`,
          ),
        );
    }
  }

  /** One window: refresh the index, compare, heal. True when done without error. */
  private async run(
    trigger: ReconcileTrigger,
    since: number,
    until: number,
    outageKey: string | null = null,
  ): Promise<boolean> {
    if (until <= since) return true;
    const at = this.now();
    const publish = async (report: ReconcileReport | null, error: string | null) => {
      await this.deps
        .publishReport?.({
          trigger,
          since: since * 1000,
          until: until * 1000,
          reconciled_at: at,
          outcome: report ? 'ok' : 'failed',
          ...(this.connectionId === DEFAULT_CONNECTION_ID ? {} : { connection_id: this.connectionId }),
          error,
          outage_key: outageKey,
          objects: report?.objects ?? 0,
          truncated: report?.truncated ?? 0,
          unidentifiable_contacts: report?.unidentifiableContacts ?? 0,
          rows: (report?.rows ?? []).map((r) => ({
            name: r.name,
            expected: r.expected,
            present: r.present,
            healed_pending: r.healedPending,
            missing: r.missing,
            healed: r.healed,
          })),
        })
        .catch((e) =>
          this.logger.warn(
            `the report of the ${trigger} window ${iso(since * 1000)} was not published: ${(e as Error).message}`,
          ),
        );
    };
    try {
      await this.deps.refreshIndex();
      this.kafkaFailure = null;
    } catch (e) {
      this.kafkaFailure = { at, reason: (e as Error).message };
      await publish(null, `reading the produced topics failed: ${(e as Error).message}`);
      this.runs.inc({ trigger, outcome: 'failed', connection: this.connectionId });
      this.logger.error(
        `${trigger} window ${iso(since * 1000)} .. ${iso(until * 1000)} not reconciled: reading the produced topics failed: ${(e as Error).message}`,
      );
      return false;
    }
    let report: ReconcileReport;
    try {
      const appId = await this.workspaceId();
      report = await reconcile(this.deps.intercom, this.deps.index, this.deps.sink, {
        since,
        until,
        kinds: this.kinds,
        appId,
        connectionId: this.connectionId,
        heal: true,
      });
      this.intercomFailure = null;
    } catch (e) {
      const failure = { at, reason: (e as Error).message };
      if (isKafkaWrite(e)) this.kafkaFailure = failure;
      else this.intercomFailure = failure;
      await publish(null, (e as Error).message);
      this.runs.inc({ trigger, outcome: 'failed', connection: this.connectionId });
      this.logger.error(
        `${trigger} window ${iso(since * 1000)} .. ${iso(until * 1000)} not reconciled: ${(e as Error).message}`,
      );
      return false;
    } finally {
      this.deps.index.save();
    }
    for (const r of report.rows) {
      if (r.missing > 0) this.missing.inc({ metric: r.name, trigger, connection: this.connectionId }, r.missing);
      if (r.healed > 0) this.healed.inc({ metric: r.name, trigger, connection: this.connectionId }, r.healed);
    }
    await publish(report, null);
    this.runs.inc({ trigger, outcome: 'ok', connection: this.connectionId });
    this.lastWindow = { since, until, trigger, at };
    this.windowEdge.set({ edge: 'since', connection: this.connectionId }, since);
    this.windowEdge.set({ edge: 'until', connection: this.connectionId }, until);
    const missing = report.rows.reduce((n, r) => n + r.missing, 0);
    const line =
      `${trigger} window ${iso(since * 1000)} .. ${iso(until * 1000)}: ${report.objects} objects, ${missing} missing` +
      (missing > 0
        ? ` (${report.rows
            .filter((r) => r.missing > 0)
            .map((r) => `${r.name} ${r.missing}`)
            .join(', ')}), healed`
        : '');
    if (missing > 0 || trigger === 'outage') this.logger.warn(line);
    else this.logger.log(line);
    return true;
  }

  private async workspaceId(): Promise<string> {
    if (this.appId) return this.appId;
    if (!this.deps.intercom.me) throw new Error('no workspace id: set INTERCOM_APP_ID');
    const me = await this.deps.intercom.me();
    const id = me.app?.id_code;
    if (!id)
      throw new Error(
        'GET /me answered no app.id_code: set INTERCOM_APP_ID (the app_id of your webhook notifications)',
      );
    this.appId = id;
    return id;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The heal's write to the raw topic failed (Kafka), not Intercom. */
function isKafkaWrite(e: unknown): boolean {
  const name = (e as Error)?.name ?? '';
  return (
    name === 'KafkaUnavailableError' ||
    name === 'RecordTooLargeError' ||
    name === 'NotificationEncodeError' ||
    name.startsWith('Kafka')
  );
}
