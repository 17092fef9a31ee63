import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Issue #21: no app or lib builds Kafka clients, producers, codecs or HTTP clients by hand;
 * they come from a provider factory (a `*.module.ts`: KafkaModule, SinkStageModule, …), so the
 * apps, the CLI, the benches and the tests share one wiring. libs/kafka/src/kafka-client.ts
 * holds the factory functions KafkaModule calls.
 */
const ROOT = join(__dirname, '..', '..');
const CONSTRUCTIONS: ReadonlyArray<[string, RegExp]> = [
  ['new Kafka(', /\bnew Kafka\(/],
  ['.producer(', /\.producer\(/],
  ['new AvroCodec(', /\bnew AvroCodec\(/],
  ['new KlaviyoHttpClient(', /\bnew KlaviyoHttpClient\(/],
  ['createKafka(', /\bcreateKafka\(/],
  ['createProducer(', /\bcreateProducer\(/],
];

/** Where building them is the point. */
const FACTORIES = new Set(['libs/kafka/src/kafka-client.ts']);

/** Not moved yet, each in another engineer's work of issue #21 (remove the line when it moves). */
const NOT_YET: Readonly<Record<string, string>> = {
  'apps/console/src/console.service.ts': 'the console (item 5: read models into a lib, ops module)',
  'libs/reconciler/src/produced-index.updater.ts':
    'the reconcile lib (item 4: libs/backfill reconcile and index into libs/reconciler)',
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== '__tests__') out.push(...sources(path));
    } else if (name.endsWith('.ts') && !/\.(spec|integration-spec|e2e-spec)\.ts$/.test(name)) {
      out.push(path);
    }
  }
  return out;
}

/** Code without comments (a comment may name what it does not do). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

function offenders(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of [...sources(join(ROOT, 'apps')), ...sources(join(ROOT, 'libs'))]) {
    const rel = relative(ROOT, file).split('\\').join('/');
    if (rel.endsWith('.module.ts') || FACTORIES.has(rel)) continue;
    const text = code(readFileSync(file, 'utf8'));
    const hits = CONSTRUCTIONS.filter(([, re]) => re.test(text)).map(([what]) => what);
    if (hits.length > 0) found.set(rel, hits);
  }
  return found;
}

describe('construction: Kafka, producers, codecs and HTTP clients come from provider factories', () => {
  const found = offenders();

  it('no app or lib constructs them outside a provider factory (*.module.ts)', () => {
    const unexpected = [...found]
      .filter(([file]) => !(file in NOT_YET))
      .map(([file, hits]) => `${file}: ${hits.join(', ')}`);
    expect(unexpected).toEqual([]);
  });

  it('the list of places not moved yet only shrinks', () => {
    expect(Object.keys(NOT_YET).filter((file) => !found.has(file))).toEqual([]);
  });
});
