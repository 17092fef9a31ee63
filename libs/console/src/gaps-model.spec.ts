import type { ReconcileReportRecord } from '@iks/domain';
import { GapsModel } from './gaps-model';

const report = (o: Partial<ReconcileReportRecord> = {}): ReconcileReportRecord => ({
  trigger: 'schedule',
  since: 1000,
  until: 2000,
  reconciled_at: 2500,
  outcome: 'ok',
  error: null,
  outage_key: null,
  objects: 3,
  truncated: 0,
  unidentifiable_contacts: 0,
  reporter: 'reconciler@h',
  rows: [{ name: 'Conversation Rated', expected: 2, present: 1, healed_pending: 0, missing: 1, healed: 1 }],
  ...o,
});

describe('GapsModel', () => {
  it('totals missing and healed per metric over every report, keeps the newest reports, counts failed windows', () => {
    const g = new GapsModel(2);
    g.applyReport(report());
    g.applyReport(report({ since: 2000 }));
    g.applyReport(report({ since: 3000, outcome: 'failed', error: 'Intercom away', rows: [] }));
    expect(g.totals.get('Conversation Rated')).toEqual({ missing: 2, healed: 2 });
    expect(g.reports.map((r) => r.since)).toEqual([2000, 3000]);
    expect(g.failedWindows).toBe(1);
  });

  it('marks an outage reconciled when its tombstone arrives, and finds its window report', () => {
    const g = new GapsModel();
    g.applyOutage('ingest@h:1', { since: 1, until: 2, failed_writes: 7, reporter: 'ingest@h' }, 10);
    g.applyOutage('ingest@h:2', { since: 3, until: 4, failed_writes: 1, reporter: 'ingest@h' }, 11);
    g.applyOutage('ingest@h:1', null, 12);
    expect(g.outages.get('ingest@h:1')).toMatchObject({ reconciledAt: 12, outage: { failed_writes: 7 } });
    expect(g.outages.get('ingest@h:2')!.reconciledAt).toBeNull();
    g.applyReport(report({ trigger: 'outage', outage_key: 'ingest@h:1' }));
    expect(g.reportOf('ingest@h:1')?.trigger).toBe('outage');
    expect(g.reportOf('ingest@h:2')).toBeUndefined();
  });
});
