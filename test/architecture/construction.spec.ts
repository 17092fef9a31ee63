import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sourceFiles } from './source-files';

/**
 * Issue #21: no app or lib builds Kafka clients, producers, codecs or HTTP clients by hand;
 * they come from a provider factory (a `*.module.ts`: KafkaModule, SinkStageModule, …), so the
 * apps, the CLI, the benches and the tests share one wiring. libs/kafka/src/kafka-client.ts
 * holds the factory functions KafkaModule calls.
 * Intercom clients are made per connection (its API host and access token, issue #22) by the one
 * factory, libs/intercom/src/intercom-client.factory.ts (INTERCOM_CLIENT_FACTORY): no other file,
 * not even a provider factory, constructs IntercomClient (the CLI's backfill and reconcile, the
 * reconciler's loops, libs/directory's sources and the connection probe call the factory).
 * libs/oauth's clients (KlaviyoOAuthClient, IntercomOAuthClient) come from provider factories too:
 * the sink's SinkStageModule and the console's ConsoleModule.
 */
const ROOT = join(__dirname, '..', '..');
const CONSTRUCTIONS: ReadonlyArray<[string, RegExp]> = [
  ['new Kafka(', /\bnew Kafka\(/],
  ['.producer(', /\.producer\(/],
  ['new AvroCodec(', /\bnew AvroCodec\(/],
  ['new KlaviyoHttpClient(', /\bnew KlaviyoHttpClient\(/],
  ['new KlaviyoOAuthClient(', /\bnew KlaviyoOAuthClient\(/],
  ['new IntercomOAuthClient(', /\bnew IntercomOAuthClient\(/],
  ['createKafka(', /\bcreateKafka\(/],
  ['createProducer(', /\bcreateProducer\(/],
];

/** Where building them is the point. */
const FACTORIES = new Set(['libs/kafka/src/kafka-client.ts']);

/** Built in one file only (a `*.module.ts` is no exception): the class, and the factory that builds it. */
const ONLY_IN: ReadonlyArray<[string, RegExp, string]> = [
  ['new IntercomClient(', /\bnew IntercomClient\(/, 'libs/intercom/src/intercom-client.factory.ts'],
];

/** Code without comments (a comment may name what it does not do). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

/** What `source` constructs of CONSTRUCTIONS (comments left out). */
function constructions(source: string): string[] {
  const text = code(source);
  return CONSTRUCTIONS.filter(([, re]) => re.test(text)).map(([what]) => what);
}

/** What `source` (at `rel`) constructs of ONLY_IN outside its one file (comments left out). */
function strayConstructions(rel: string, source: string): string[] {
  const text = code(source);
  return ONLY_IN.filter(([, re, home]) => rel !== home && re.test(text)).map(([what]) => what);
}

function offenders(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of [...sourceFiles(join(ROOT, 'apps')), ...sourceFiles(join(ROOT, 'libs'))]) {
    const rel = relative(ROOT, file).split('\\').join('/');
    const text = readFileSync(file, 'utf8');
    const hits = [
      ...(rel.endsWith('.module.ts') || FACTORIES.has(rel) ? [] : constructions(text)),
      ...strayConstructions(rel, text),
    ];
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
          'const oauth = new KlaviyoOAuthClient({ clientId }), io = new IntercomOAuthClient({ clientId });',
          'const k2 = createKafka(c.kafka), p2 = createProducer(k2);',
        ].join('\n'),
      ),
    ).toEqual(CONSTRUCTIONS.map(([what]) => what));
    expect(constructions('/** never `new Kafka(` here */\n// nor new AvroCodec(c)\nconst url = "http://x";')).toEqual(
      [],
    );
  });

  it('sees `new IntercomClient(` anywhere but in the factory, a *.module.ts included', () => {
    const source = 'const client = new IntercomClient({ accessToken, baseUrl });';
    expect(strayConstructions('apps/cli/src/commands/backfill.command.ts', source)).toEqual(['new IntercomClient(']);
    expect(strayConstructions('libs/connections/src/connections.module.ts', source)).toEqual(['new IntercomClient(']);
    expect(strayConstructions('libs/intercom/src/intercom-client.factory.ts', source)).toEqual([]);
    expect(
      strayConstructions('libs/reconciler/src/x.ts', '// not new IntercomClient( here\nintercomClient(c);'),
    ).toEqual([]);
  });

  it('the factory is where IntercomClient is built', () => {
    const factory = readFileSync(join(ROOT, ONLY_IN[0][2]), 'utf8');
    expect(ONLY_IN[0][1].test(code(factory))).toBe(true);
  });
});
