import type { PipelineOutage, ReconcileReportRecord } from '@iks/domain';

export interface OutageView {
  readonly key: string;
  readonly outage: PipelineOutage | null;
  /** When its tombstone was read (the reconciler reconciled the window). */
  reconciledAt: number | null;
}

export interface MetricGaps {
  missing: number;
  healed: number;
}

/**
 * The Gaps page's read model, from pipeline.reconcile.v1 (each reconciled window) and
 * pipeline.outages.v1 (the times ingest answered 503, tombstoned once reconciled). Bounded: the
 * newest `keep` reports and outages; the totals per metric cover every report read.
 */
export class GapsModel {
  readonly reports: ReconcileReportRecord[] = [];
  readonly outages = new Map<string, OutageView>();
  readonly totals = new Map<string, MetricGaps>();
  failedWindows = 0;

  constructor(private readonly keep = 500) {}

  applyReport(r: ReconcileReportRecord): void {
    this.reports.push(r);
    if (this.reports.length > this.keep) this.reports.shift();
    if (r.outcome === 'failed') this.failedWindows++;
    for (const row of r.rows) {
      const t = this.totals.get(row.name) ?? { missing: 0, healed: 0 };
      t.missing += row.missing;
      t.healed += row.healed;
      this.totals.set(row.name, t);
    }
  }

  /** A marker, or its tombstone (null) once the reconciler reconciled it. */
  applyOutage(key: string, outage: PipelineOutage | null, at: number): void {
    const known = this.outages.get(key);
    if (outage) this.outages.set(key, { key, outage, reconciledAt: null });
    else if (known) known.reconciledAt = at;
    else this.outages.set(key, { key, outage: null, reconciledAt: at });
    if (this.outages.size > this.keep) this.outages.delete(this.outages.keys().next().value!);
  }

  /** The newest report of an outage window, when there is one. */
  reportOf(key: string): ReconcileReportRecord | undefined {
    for (let i = this.reports.length - 1; i >= 0; i--) if (this.reports[i].outage_key === key) return this.reports[i];
    return undefined;
  }
}
