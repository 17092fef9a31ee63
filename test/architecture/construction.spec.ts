import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sourceFiles } from './source-files';

/**
 * Issue #21: no app or lib builds Kafka clients, producers, codecs or HTTP clients by hand;
 * they come from a provider factory (a `*.module.ts`: KafkaModule, SinkStageModule, …), so the
 * apps, the CLI, the benches and the tests share one wiring. libs/kafka/src/kafka-client.ts
 * holds the factory functions KafkaModule calls.
 * Not covered yet: `new IntercomClient(` (made per access token where the token is read: the CLI's
 * backfill and reconcile, ReconcilerRunner.start, libs/directory's intercomSourceFor), to move
 * with the per-connection clients of issue #22. libs/oauth's clients are built in the console's
 * provider factory (apps/console/src/console.module.ts).
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

/** Code without comments (a comment may name what it does not do). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

/** What `source` constructs of CONSTRUCTIONS (comments left out). */
function constructions(source: string): string[] {
  const text = code(source);
  return CONSTRUCTIONS.filter(([, re]) => re.test(text)).map(([what]) => what);
}

function offenders(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of [...sourceFiles(join(ROOT, 'apps')), ...sourceFiles(join(ROOT, 'libs'))]) {
    const rel = relative(ROOT, file).split('\\').join('/');
    if (rel.endsWith('.module.ts') || FACTORIES.has(rel)) continue;
    const hits = constructions(readFileSync(file, 'utf8'));
    if (hits.length > 0) found.set(rel, hits);
  }
  return found;
}

describe('construction: Kafka, producers, codecs and HTTP clients come from provider factories', () => {
  const found = offenders();

  it('no app or lib constructs them outside a provider factory (*.module.ts)', () => {
    expect([...found].map(([file, hits]) => `${file}: ${hits.join(', ')}`)).toEqual([]);
  });

  it('sees a construction in code, not in a comment', () => {
    expect(
      constructions(
        [
          'const kafka = new Kafka({ brokers });',
          'const p = kafka.producer({ idempotent: true });',
          'const codec = new AvroCodec(c.kafka);',
          'const client = new KlaviyoHttpClient({ apiKey });',
          'const k2 = createKafka(c.kafka), p2 = createProducer(k2);',
        ].join('\n'),
      ),
    ).toEqual(CONSTRUCTIONS.map(([what]) => what));
    expect(constructions('/** never `new Kafka(` here */\n// nor new AvroCodec(c)\nconst url = "http://x";')).toEqual(
      [],
    );
  });
});
