import { ChaosRig } from './chaos-rig';
import { measure, type Measurement } from './chaos-measure';
import { SCENARIOS } from './chaos-scenarios';

export interface ScenarioResult extends Measurement {
  readonly name: string;
  readonly pass: boolean;
  readonly notes: readonly string[];
}

const COLUMNS = ['scenario', 'accepted', 'expected', 'arrived', 'lost', 'doubled', 'redelivered', 'dlq', 'recover', 'verdict'];

function row(cells: readonly string[]): string {
  const widths = [30, 10, 9, 8, 5, 8, 12, 7, 9, 7];
  return cells.map((c, i) => c.padEnd(widths[i])).join(' ');
}

/**
 * Runs the scenarios one after the other on ONE rig (one fresh prefix for the run): each counts
 * only its own webhooks' unique_ids and the dead letters added while it ran.
 */
export async function runChaos(opts: { fast: boolean; only?: string; log: (line: string) => void }): Promise<ScenarioResult[]> {
  const scenarios = SCENARIOS.filter((s) => (!opts.fast || s.fast) && (!opts.only || s.name.toLowerCase().includes(opts.only.toLowerCase())));
  const rig = new ChaosRig();
  const results: ScenarioResult[] = [];
  const t0 = Date.now();
  try {
    await rig.start();
    opts.log(`chaos: ${scenarios.length} scenario(s) on prefix ${rig.prefix} (pipeline up in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    opts.log(row(COLUMNS));
    const knownIds = new Set<string>();
    for (const s of scenarios) {
      const ctx = { dlqBefore: await rig.deadLettered(), duplicatesBefore: rig.klaviyo.store.duplicateEventsIgnored, knownIds, storedBefore: rig.klaviyo.store.events.length };
      let r: ScenarioResult;
      try {
        const run = await s.run(rig);
        const m = await measure(rig, run, ctx);
        r = { name: s.name, ...m, pass: m.problems.length === 0, notes: run.notes };
      } catch (e) {
        const problem = e instanceof Error ? e.message : String(e);
        r = { name: s.name, accepted: 0, sent: 0, refused: 0, expected: 0, arrived: 0, lost: 0, doubled: 0, redelivered: 0, deadLettered: 0, expectedDeadLetters: 0, recoverMs: 0, problems: [problem], pass: false, notes: [] };
      }
      results.push(r);
      opts.log(row([
        s.name, `${r.accepted}/${r.sent}`, String(r.expected), String(r.arrived), String(r.lost), String(r.doubled), String(r.redelivered),
        `${r.deadLettered}/${r.expectedDeadLetters}`, `${(r.recoverMs / 1000).toFixed(1)} s`, r.pass ? 'PASS' : 'FAIL',
      ]));
      for (const n of r.notes) opts.log(`    ${n}`);
      for (const p of r.problems) opts.log(`    FAILED: ${p}`);
    }
  } finally {
    await rig.stop();
  }
  const failed = results.filter((r) => !r.pass).length;
  opts.log(`chaos: ${results.length - failed}/${results.length} passed in ${((Date.now() - t0) / 1000).toFixed(0)} s` +
    ' (accepted/sent webhooks; expected/arrived Klaviyo unique_ids; redelivered = re-sends Klaviyo ignored as duplicates; dlq = dead letters/expected)');
  return results;
}
