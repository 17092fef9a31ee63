/**
 * Summarises a V8 CPU profile (.cpuprofile, the Chrome DevTools format that `--cpu-prof` and the
 * inspector's Profiler.stop write): where the sampled time went, by function, by self time and by
 * inclusive time, split into our code (dist/apps, libs, tools, bench), libraries (node_modules,
 * by package), Node's own JavaScript (node:*), and V8/native frames (GC, builtins, "(program)").
 *
 * A sample's duration is the time to the next sample (timeDeltas[i + 1]; the last one gets the
 * mean): closer to what DevTools shows than hitCount × the nominal interval when the process is
 * descheduled on a busy machine.
 */

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** `ours`, `lib:<package>`, `node`, `native`, `gc`, `program`, `idle`, or `root`. */
export type Category = string;

/** Where a frame comes from, by its url (and the special names V8 gives its pseudo-frames). */
export function categoryOf(frame: CallFrame): Category {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(program)') return 'program';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(root)') return 'root';
    return 'native';
  }
  if (url.startsWith('node:')) return 'node';
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return `lib:${nm[1]}`;
  if (/\/dist\/(apps|libs|tools|bench|chaos)\//.test(url) || /\/(apps|libs|tools|bench|chaos)\/.*\.ts$/.test(url))
    return 'ours';
  return 'other';
}

/** A short, stable name for a function: `name path:line` with the path from dist/ or the package. */
export function frameKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  let path = frame.url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) path = path.slice(nm + '/node_modules/'.length);
  else {
    const dist = path.indexOf('/dist/');
    if (dist >= 0) path = path.slice(dist + '/dist/'.length);
  }
  return `${name} ${path}:${frame.lineNumber + 1}`;
}

export interface FunctionTime {
  readonly key: string;
  readonly category: Category;
  selfUs: number;
  totalUs: number;
}

export interface ProfileSummary {
  /** Sampled time without "(idle)", µs. */
  readonly busyUs: number;
  readonly idleUs: number;
  readonly wallUs: number;
  /** Self time by category of the frame itself. */
  readonly selfByCategory: Map<Category, number>;
  /**
   * Self time charged to the nearest frame that is ours or a library's (a native builtin or Node
   * internal called from kafkajs counts as kafkajs); GC and "(program)" stay on their own.
   */
  readonly attributed: Map<Category, number>;
  readonly functions: FunctionTime[];
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const n = profile.samples.length;
  const meanUs = n > 0 ? (profile.endTime - profile.startTime) / n : 0;
  const functions = new Map<string, FunctionTime>();
  const fnOf = (node: ProfileNode): FunctionTime => {
    const key = frameKey(node.callFrame);
    let f = functions.get(key);
    if (!f) functions.set(key, (f = { key, category: categoryOf(node.callFrame), selfUs: 0, totalUs: 0 }));
    return f;
  };
  const selfByCategory = new Map<Category, number>();
  const attributed = new Map<Category, number>();
  const add = (m: Map<Category, number>, k: Category, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  let idleUs = 0;
  let busyUs = 0;

  for (let i = 0; i < n; i++) {
    const us = i + 1 < n ? profile.timeDeltas[i + 1] : meanUs;
    const leaf = byId.get(profile.samples[i]);
    if (!leaf || us <= 0) continue;
    const leafCat = categoryOf(leaf.callFrame);
    if (leafCat === 'idle') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    fnOf(leaf).selfUs += us;
    add(selfByCategory, leafCat, us);
    const seen = new Set<string>();
    let charged: Category | null = leafCat === 'gc' || leafCat === 'program' ? leafCat : null;
    for (let node: ProfileNode | undefined = leaf; node; node = byId.get(parent.get(node.id) ?? -1)) {
      const cat = categoryOf(node.callFrame);
      if (cat === 'root') break;
      const f = fnOf(node);
      if (!seen.has(f.key)) {
        seen.add(f.key);
        f.totalUs += us;
      }
      if (charged === null && (cat === 'ours' || cat.startsWith('lib:'))) charged = cat;
    }
    add(attributed, charged ?? leafCat, us);
  }
  return {
    busyUs,
    idleUs,
    wallUs: profile.endTime - profile.startTime,
    selfByCategory,
    attributed,
    functions: [...functions.values()].filter((f) => f.category !== 'root'),
  };
}

/**
 * The call paths (leaf first, `depth` frames) that lead to the functions whose key contains
 * `match`, with the sampled time spent in them (inclusive) along each path; the heaviest first.
 */
export function callersOf(profile: CpuProfile, match: string, depth = 6): Array<{ path: string[]; us: number }> {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const n = profile.samples.length;
  const meanUs = n > 0 ? (profile.endTime - profile.startTime) / n : 0;
  const paths = new Map<string, { path: string[]; us: number }>();
  for (let i = 0; i < n; i++) {
    const us = i + 1 < n ? profile.timeDeltas[i + 1] : meanUs;
    // the outermost frame on the stack that matches, then `depth` frames of its callers
    let hit: ProfileNode | undefined;
    for (let node = byId.get(profile.samples[i]); node; node = byId.get(parent.get(node.id) ?? -1)) {
      if (frameKey(node.callFrame).includes(match)) hit = node;
    }
    if (!hit) continue;
    const path: string[] = [];
    for (
      let node: ProfileNode | undefined = hit;
      node && path.length < depth;
      node = byId.get(parent.get(node.id) ?? -1)
    ) {
      if (categoryOf(node.callFrame) === 'root') break;
      path.push(frameKey(node.callFrame));
    }
    const k = path.join(' < ');
    const e = paths.get(k) ?? { path, us: 0 };
    e.us += us;
    paths.set(k, e);
  }
  return [...paths.values()].sort((a, b) => b.us - a.us);
}

export interface ReportOptions {
  readonly top?: number;
  /** Events processed while profiling: adds a µs-per-event column. */
  readonly events?: number;
}

/** The summary as plain text: totals, categories, then the top lists. */
export function formatSummary(title: string, s: ProfileSummary, opts: ReportOptions = {}): string {
  const top = opts.top ?? 25;
  const out: string[] = [];
  const ms = (us: number) => (us / 1000).toFixed(1).padStart(9);
  const pct = (us: number) => `${((100 * us) / (s.busyUs || 1)).toFixed(1).padStart(5)} %`;
  const per = (us: number) => (opts.events ? `${(us / opts.events).toFixed(2).padStart(9)} µs/ev` : '');
  out.push(`== ${title}`);
  out.push(
    `   sampled ${(s.wallUs / 1e6).toFixed(1)} s: busy ${(s.busyUs / 1000).toFixed(0)} ms, idle ${(s.idleUs / 1000).toFixed(0)} ms` +
      (opts.events ? `; ${opts.events} events → ${(s.busyUs / 1000 / opts.events).toFixed(3)} busy ms per event` : ''),
  );
  const table = (label: string, m: Map<Category, number>) => {
    out.push(`   ${label}:`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]))
      out.push(`     ${k.padEnd(40)} ${ms(v)} ms ${pct(v)} ${per(v)}`);
  };
  table('self time by where the frame is', s.selfByCategory);
  table(
    'self time charged to the nearest frame of ours or a library (natives and node: internals count for their caller)',
    s.attributed,
  );
  const list = (label: string, pick: (f: FunctionTime) => boolean, by: 'selfUs' | 'totalUs') => {
    const rows = s.functions
      .filter(pick)
      .sort((a, b) => b[by] - a[by])
      .slice(0, top);
    out.push(`   top ${top} ${label}  (self ms, %, inclusive ms, %):`);
    for (const f of rows)
      out.push(
        `     ${ms(f.selfUs)} ${pct(f.selfUs)} ${ms(f.totalUs)} ${pct(f.totalUs)} ${per(f[by])}  ${f.key}${f.category === 'ours' ? '' : `  [${f.category}]`}`,
      );
  };
  const ours = (f: FunctionTime) => f.category === 'ours';
  const libs = (f: FunctionTime) => f.category.startsWith('lib:');
  list('by self time, all frames', () => true, 'selfUs');
  list('by self time, our code', ours, 'selfUs');
  list('by self time, libraries', libs, 'selfUs');
  list('by inclusive time, our code', ours, 'totalUs');
  list('by inclusive time, libraries', libs, 'totalUs');
  return out.join('\n');
}
