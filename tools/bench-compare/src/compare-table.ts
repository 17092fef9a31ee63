/**
 * The side-by-side table of bench:compare: every figure's value in every run of the ref and of
 * the current tree, their medians and current/ref.
 */
import type { Figure } from '../../support/bench-figures';

export type Side = 'ref' | 'current';

export interface Run {
  readonly side: Side;
  readonly round: number;
  readonly ok: boolean;
  readonly figures: readonly Figure[];
}

export interface Row {
  readonly name: string;
  readonly unit: string;
  /** One entry per run of that side, in run order; NaN where the run lacks the figure. */
  readonly ref: number[];
  readonly current: number[];
  readonly refMedian: number;
  readonly currentMedian: number;
  /** currentMedian / refMedian (NaN when either is missing or the ref's is 0). */
  readonly ratio: number;
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** Rows in the order figures first appear (current runs first, then what only the ref has). */
export function compareRuns(runs: readonly Run[], filter?: RegExp): Row[] {
  const order: string[] = [];
  const units = new Map<string, string>();
  for (const side of ['current', 'ref'] as const) {
    for (const r of runs.filter((x) => x.side === side)) {
      for (const f of r.figures) {
        if (!units.has(f.name)) {
          order.push(f.name);
          units.set(f.name, f.unit);
        }
      }
    }
  }
  const valuesOf = (side: Side, name: string) =>
    runs.filter((r) => r.side === side).map((r) => r.figures.find((f) => f.name === name)?.value ?? NaN);
  return order
    .filter((n) => !filter || filter.test(n))
    .map((name) => {
      const ref = valuesOf('ref', name);
      const current = valuesOf('current', name);
      const refMedian = median(ref);
      const currentMedian = median(current);
      const ratio =
        Number.isFinite(refMedian) && Number.isFinite(currentMedian) && refMedian !== 0
          ? currentMedian / refMedian
          : NaN;
      return { name, unit: units.get(name) ?? '', ref, current, refMedian, currentMedian, ratio };
    });
}

/** A number with about 4 significant digits, `–` for a missing one. */
export function fmtValue(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  if (a >= 1) return v.toFixed(3);
  return v.toPrecision(3);
}

/** The table as plain text, one figure a line. */
export function formatTable(rows: readonly Row[], labels: { ref: string; current: string }): string {
  const nameW = Math.min(64, Math.max(6, ...rows.map((r) => r.name.length)));
  const runs = (xs: number[]) => xs.map(fmtValue).join(' / ');
  const refW = Math.max(labels.ref.length, ...rows.map((r) => runs(r.ref).length));
  const curW = Math.max(labels.current.length, ...rows.map((r) => runs(r.current).length));
  const out = [
    `${'figure'.padEnd(nameW)}  ${labels.ref.padEnd(refW)}  ${labels.current.padEnd(curW)}  ${'median ref'.padStart(10)}  ${'median cur'.padStart(10)}  ${'cur/ref'.padStart(7)}  unit`,
  ];
  for (const r of rows) {
    out.push(
      `${r.name.padEnd(nameW)}  ${runs(r.ref).padEnd(refW)}  ${runs(r.current).padEnd(curW)}  ${fmtValue(r.refMedian).padStart(10)}  ` +
        `${fmtValue(r.currentMedian).padStart(10)}  ${(Number.isFinite(r.ratio) ? r.ratio.toFixed(3) : '–').padStart(7)}  ${r.unit}`,
    );
  }
  return out.join('\n');
}

/** Round i's order: ref first in odd rounds, current first in even ones (ABBA: drift cancels). */
export function roundOrder(round: number): Side[] {
  return round % 2 === 1 ? ['ref', 'current'] : ['current', 'ref'];
}
