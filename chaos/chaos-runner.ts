import { ChaosRig } from './chaos-rig';
import { measure, measureContext, type Measurement } from './chaos-measure';
import { SCENARIOS, type Scenario } from './chaos-scenarios';

export interface ScenarioResult extends Measurement {
  readonly name: string;
  readonly pass: boolean;
  readonly notes: readonly string[];
}

const COLUMNS = [
  'scenario',
  'accepted',
  'expected',
  'arrived',
  'lost',
  'doubled',
  'redelivered',
  'dlq',
  'recover',
  'verdict',
];

function row(cells: readonly string[]): string {
  const widths = [34, 10, 9, 8, 5, 8, 12, 7, 9, 7];
  return cells.map((c, i) => c.padEnd(widths[i])).join(' ');
}

/**
 * Runs the scenarios one after the other on ONE rig (one fresh prefix for the run): each counts
 * only its own webhooks' unique_ids and the dead letters added while it ran. Scenarios that kill
 * the broker run afterwards on a second rig with a private broker.
 */
export async function runChaos(opts: {
  fast: boolean;
  only?: string;
  log: (line: string) => void;
}): Promise<ScenarioResult[]> {
  const only =
    opts.only
      ?.toLowerCase()
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean) ?? [];
  const scenarios = SCENARIOS.filter(
    (s) => (!opts.fast || s.fast) && (only.length === 0 || only.some((o) => s.name.toLowerCase().includes(o))),
  );
  const t0 = Date.now();
  const results: ScenarioResult[] = [];
  // the shared broker's rig, then the accounts' rig (three connections), then the private broker's
  for (const kind of ['shared', 'accounts', 'private'] as const) {
    const group = scenarios.filter((s) => (s.privateBroker ? 'private' : s.tenants ? 'accounts' : 'shared') === kind);
    if (group.length === 0) continue;
    const rig = new ChaosRig({ privateBroker: kind === 'private', tenants: kind === 'accounts' ? 3 : 0 });
    results.push(...(await runOnRig(rig, group, opts.log)));
  }
  const failed = results.filter((r) => !r.pass).length;
  opts.log(
    `chaos: ${results.length - failed}/${results.length} passed in ${((Date.now() - t0) / 1000).toFixed(0)} s` +
      ' (accepted/sent webhooks; expected/arrived Klaviyo unique_ids; redelivered = re-sends Klaviyo ignored as duplicates; dlq = dead letters/expected)',
  );
  return results;
}

async function runOnRig(
  rig: ChaosRig,
  scenarios: readonly Scenario[],
  log: (line: string) => void,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const t0 = Date.now();
  try {
    await rig.start();
    log(
      `chaos: ${scenarios.length} scenario(s) on prefix ${rig.prefix}${rig.broker ? `, private broker ${rig.broker.brokers}` : ''} (pipeline up in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    log(row(COLUMNS));
    const knownIds = new Map<string, Set<string>>();
    for (const s of scenarios) {
      const ctx = measureContext(rig, await rig.deadLettered(), knownIds);
      const crashesBefore = rig.crashLog.length;
      const scenarioStarted = Date.now();
      let r: ScenarioResult;
      try {
        const run = await s.run(rig);
        const m = await measure(rig, run, ctx);
        const notes = [
          `took ${((Date.now() - scenarioStarted) / 1000).toFixed(0)} s`,
          ...run.notes,
          ...(m.perAccount.length > 0 ? [`per account: ${m.perAccount.join('; ')}`] : []),
          ...rig.crashLog.slice(crashesBefore).map((c) => `crash: ${c}`),
        ];
        r = { name: s.name, ...m, pass: m.problems.length === 0, notes };
      } catch (e) {
        const problem = e instanceof Error ? e.message : String(e);
        r = {
          name: s.name,
          accepted: 0,
          sent: 0,
          refused: 0,
          expected: 0,
          arrived: 0,
          lost: 0,
          doubled: 0,
          redelivered: 0,
          deadLettered: 0,
          expectedDeadLetters: 0,
          recoverMs: 0,
          problems: [problem],
          perAccount: [],
          pass: false,
          notes: [],
        };
      }
      results.push(r);
      log(
        row([
          s.name,
          `${r.accepted}/${r.sent}`,
          String(r.expected),
          String(r.arrived),
          String(r.lost),
          String(r.doubled),
          String(r.redelivered),
          `${r.deadLettered}/${r.expectedDeadLetters}`,
          `${(r.recoverMs / 1000).toFixed(1)} s`,
          r.pass ? 'PASS' : 'FAIL',
        ]),
      );
      for (const n of r.notes) log(`    ${n}`);
      for (const p of r.problems) log(`    FAILED: ${p}`);
    }
  } finally {
    await rig.stop();
  }
  return results;
}
