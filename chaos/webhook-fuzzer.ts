import type { Rng } from '../tools/intercom-emulator/src/rng';

/** The kinds of damage a fuzzed webhook body carries. */
export const FUZZ_KINDS = [
  'wrong_type',
  'missing',
  'huge_string',
  'unicode',
  'deep',
  'number_range',
  'envelope',
  'shape',
  'not_json',
] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export interface FuzzedBody {
  readonly kind: FuzzKind;
  /** The JSON path (or what) that was damaged, for the report. */
  readonly where: string;
  readonly body: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

const WEIRD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\u202eevil\u202c',
  'e\u0301\u0301\u0301',
  '\ud83d\ude00\ud83c\udff3\ufe0f\u200d\ud83c\udf08',
  '\ud800',
  '\udfff',
  '\ufeff\u200b\u2028\u2029',
  '\u0007\u001b[31mred\u001b[0m',
  'null',
  '<script>alert(1)</script>',
  '%s%n%x',
  '../../etc/passwd',
  'ＡＢＣ',
  '\u{10ffff}',
  "'; DROP TABLE contacts; --",
];
const OUT_OF_RANGE = [1e300, -1e300, -1, 2 ** 63, 2 ** 53 + 2, 2 ** 31, 1.5, -0, 1e-300, Number.MAX_VALUE];

/** Every path to a value of `root` (objects and arrays walked, depth-first). */
function paths(root: Json, prefix: Path = [], out: Path[] = []): Path[] {
  if (root !== null && typeof root === 'object') {
    for (const [k, v] of Object.entries(root)) {
      const p = [...prefix, Array.isArray(root) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}

function getAt(root: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], root);
}

function setAt(root: Json, path: Path, value: Json | undefined): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (value !== undefined) parent[last] = value;
  else if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete parent[last];
}

function otherType(rng: Rng, v: Json): Json {
  const candidates: Json[] = [null, true, 0, -7, 'x', [], {}, [1, 'two'], { a: 1 }, '123', 123];
  const typeOf = (x: Json) => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
  const different = candidates.filter((c) => typeOf(c) !== typeOf(v));
  return rng.pick(different);
}

function nested(rng: Rng, depth: number): string {
  return rng.chance(0.5)
    ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A string of about `length` UTF-16 units mixing ASCII and multi-byte characters. */
function hugeString(rng: Rng, length: number): string {
  const unit = rng.pick(['a', 'é', '\ud83d\ude00', 'x'.repeat(63) + '\u4e2d']);
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

const pathName = (p: Path) =>
  p
    .map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`))
    .join('')
    .slice(1) || '(root)';

/**
 * One fuzzed webhook body from a good notification: random but deliberate damage of one kind
 * (wrong types, missing fields, huge strings, odd unicode, deep nesting, numbers out of range, a
 * broken envelope, a body of the wrong shape, not JSON at all). Deterministic for a given `rng`.
 */
export function fuzzNotification(good: Json, rng: Rng, kind: FuzzKind = rng.pick(FUZZ_KINDS)): FuzzedBody {
  const n = JSON.parse(JSON.stringify(good)) as Json;
  const all = paths(n);
  const leaves = (pred: (v: Json) => boolean) => all.filter((p) => pred(getAt(n, p)));
  const pick = (ps: Path[]) => (ps.length > 0 ? rng.pick(ps) : rng.pick(all));
  switch (kind) {
    case 'wrong_type': {
      const p = pick(all);
      setAt(n, p, otherType(rng, getAt(n, p)));
      return { kind, where: pathName(p), body: JSON.stringify(n) };
    }
    case 'missing': {
      const p = pick(all);
      setAt(n, p, undefined);
      return { kind, where: pathName(p), body: JSON.stringify(n) };
    }
    case 'huge_string': {
      const p = pick(leaves((v) => typeof v === 'string'));
      // mostly well under ingest's 1 MiB limit; one in ten above it (413)
      const length = rng.chance(0.1) ? rng.int(1_050_000, 1_300_000) : rng.int(10_000, 300_000);
      setAt(n, p, hugeString(rng, length));
      return { kind, where: `${pathName(p)} (${length} chars)`, body: JSON.stringify(n) };
    }
    case 'unicode': {
      const strings = leaves((v) => typeof v === 'string');
      const targets = Array.from({ length: rng.int(1, 4) }, () => rng.pick(strings));
      for (const p of targets) setAt(n, p, rng.pick(WEIRD_STRINGS) + (rng.chance(0.5) ? String(getAt(n, p)) : ''));
      return { kind, where: targets.map(pathName).join(',') || '(none)', body: JSON.stringify(n) };
    }
    case 'deep': {
      const p = pick(all.filter((q) => q[0] === 'data'));
      const depth = rng.pick([64, 1000, 6000, 20_000]);
      setAt(n, p, '__DEEP__');
      return {
        kind,
        where: `${pathName(p)} (depth ${depth})`,
        body: JSON.stringify(n).replace('"__DEEP__"', nested(rng, depth)),
      };
    }
    case 'number_range': {
      const named: Path[] = [
        ['created_at'],
        ['first_sent_at'],
        ['delivery_attempts'],
        ['data', 'item', 'created_at'],
        ['data', 'item', 'updated_at'],
      ];
      const p = rng.chance(0.5) ? rng.pick(named) : pick(leaves((v) => typeof v === 'number'));
      setAt(n, p, rng.pick(OUT_OF_RANGE));
      return { kind, where: pathName(p), body: JSON.stringify(n) };
    }
    case 'envelope': {
      const field = rng.pick(['type', 'id', 'topic', 'app_id', 'data']);
      const value: Json = rng.pick<Json>([
        null,
        7,
        '',
        rng.pick(WEIRD_STRINGS),
        hugeString(rng, rng.int(300, 20_000)),
        { topic: 'x' },
        [],
        'conversation.user.created\u0000',
      ]);
      (n as Record<string, Json>)[field] = value;
      return { kind, where: field, body: JSON.stringify(n) };
    }
    case 'shape':
      return {
        kind,
        where: '(root)',
        body: JSON.stringify(rng.pick<Json>([[n], 'notification_event', 42, null, {}, { data: n }, true])),
      };
    case 'not_json': {
      const s = JSON.stringify(n);
      return {
        kind,
        where: '(syntax)',
        body: rng.pick([
          s.slice(0, rng.int(1, s.length - 1)),
          `${s}}`,
          s.replace(':', '='),
          `\ufeff${s}`,
          s.replace(/"/, "'"),
        ]),
      };
    }
  }
}
