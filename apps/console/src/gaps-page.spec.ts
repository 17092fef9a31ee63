import type { ReconcileReportRecord } from '@iks/domain';
import { GapsModel } from '@iks/console';
import { gapsPage } from './page-models';

const report = (since: number, connection_id?: string): ReconcileReportRecord => ({
  trigger: 'schedule',
  since,
  until: since + 1000,
  reconciled_at: since + 1500,
  outcome: 'ok',
  error: null,
  outage_key: null,
  objects: 1,
  truncated: 0,
  unidentifiable_contacts: 0,
  reporter: 'reconciler@h',
  rows: [{ name: 'Conversation Rated', expected: 1, present: 1, healed_pending: 0, missing: 0, healed: 0 }],
  ...(connection_id ? { connection_id } : {}),
});

describe('the Gaps page filtered by connection', () => {
  it("shows one connection's reconcile reports, or every connection's", () => {
    const g = new GapsModel();
    g.applyReport(report(1_000_000)); // the default connection
    g.applyReport(report(2_000_000, 'acme'));
    g.applyReport(report(3_000_000, 'globex'));
    const spans = (connection: string | null) => gapsPage(g, connection).reports.map((r) => r.span.split(' .. ')[0]);
    const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    expect(spans(null)).toHaveLength(3);
    expect(spans('acme')).toEqual([at(2_000_000)]);
    expect(spans('default')).toEqual([at(1_000_000)]);
    expect(gapsPage(g, 'acme').latest?.span.startsWith(at(2_000_000))).toBe(true);
    expect(gapsPage(g, 'nobody').latest).toBeNull();
  });
});
