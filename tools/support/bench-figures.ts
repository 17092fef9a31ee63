/**
 * The benches' figures as machine-readable lines, and a parser for them and for the plain lines
 * the benches printed before these existed (so that bench:compare can read an old ref's output).
 *
 *   figure <name> <value> <unit>
 *
 * name: no spaces (dots and underscores group it, e.g. `p1.cpu_ms_per_event.ingest`); value: a
 * plain decimal number, `NaN` when it could not be measured; unit: free text to the end of line.
 */

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

/** `figure <name> <value> <unit>`; throws on a name with spaces (it would not parse back). */
export function formatFigure(name: string, value: number, unit: string): string {
  if (!/^\S+$/.test(name)) throw new Error(`figure name must have no spaces: "${name}"`);
  const v = Number.isFinite(value) ? String(Number(value.toPrecision(6))) : 'NaN';
  return `figure ${name} ${v} ${unit}`.trimEnd();
}

const FIGURE_LINE = /^figure (\S+) (-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|NaN|Infinity))(?: (.*))?$/;

/** The `figure` lines of a bench's output, in order (a later line of the same name wins). */
export function parseFigureLines(text: string): Figure[] {
  const out = new Map<string, Figure>();
  for (const l of text.split('\n')) {
    const m = FIGURE_LINE.exec(l.trimEnd());
    if (m) out.set(m[1], { name: m[1], value: Number(m[2]), unit: (m[3] ?? '').trim() });
  }
  return [...out.values()];
}

const QUALIFIER = /^(p\d+|max|min|mean|avg|median)$/;
const NUMBER_WITH_UNIT = /(?:\b(p\d+|max|min|mean|avg|median)\s+)?(-?\d[\d,]*(?:\.\d+)?)(?:\s*(%|[A-Za-zµ][\w/µ-]*))?/g;

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9µ%/]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 80);
}

/**
 * Figures out of human-readable bench lines, for benches (or old refs) that print no `figure`
 * lines. Two shapes are read:
 *  - `label<padding to column 52> value ...` (bench-util's line()), and
 *  - `label: value ...` (the ingest bench's lines);
 * indented lines (notes, timelines) and `== heading` lines are not figures, but a heading
 * prefixes the names of the lines under it. Every number in the value becomes a figure named
 * `<heading>.<label>.<qualifier or unit>` (p50/p99/max/... or the word after the number), the
 * first one also plain `<heading>.<label>`.
 */
export function parseLegacyLines(text: string): Figure[] {
  const out = new Map<string, Figure>();
  let section = '';
  for (const raw of text.split('\n')) {
    const l = raw.trimEnd();
    if (l.startsWith('== ')) {
      section = slug(l.slice(3)).slice(0, 40);
      continue;
    }
    if (!l || /^\s/.test(l) || l.startsWith('figure ')) continue;
    let label: string | undefined;
    let value: string | undefined;
    if (l.length > 53 && l[52] === ' ' && l.slice(0, 52).trim() && !l.slice(0, 52).includes(': ')) {
      label = l.slice(0, 52).trim();
      value = l.slice(53);
    } else {
      const m = /^([^:]{3,160}):\s+(.*)$/.exec(l);
      if (m) [label, value] = [m[1], m[2]];
    }
    if (!label || !value) continue;
    const base = [section, slug(label)].filter(Boolean).join('.');
    let first = true;
    const seen = new Map<string, number>();
    for (const m of value.matchAll(NUMBER_WITH_UNIT)) {
      const num = Number(m[2].replace(/,/g, ''));
      if (!Number.isFinite(num)) continue;
      const qualifier = m[1] && QUALIFIER.test(m[1]) ? m[1] : undefined;
      const unit = m[3] ?? '';
      if (first) out.set(base, { name: base, value: num, unit });
      first = false;
      let key = slug(qualifier ?? unit) || 'n';
      const k = (seen.get(key) ?? 0) + 1;
      seen.set(key, k);
      if (k > 1) key = `${key}#${k}`;
      const name = `${base}.${key}`;
      out.set(name, { name, value: num, unit });
    }
  }
  return [...out.values()];
}

/** The `figure` lines when there are any, else what parseLegacyLines finds. */
export function parseBenchOutput(text: string): { figures: Figure[]; source: 'figure-lines' | 'legacy-lines' } {
  const figures = parseFigureLines(text);
  return figures.length > 0
    ? { figures, source: 'figure-lines' }
    : { figures: parseLegacyLines(text), source: 'legacy-lines' };
}
