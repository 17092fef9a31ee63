import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMAS_DIR } from '@iks/kafka';
import { testConfig } from '../../../../test/support/test-config';
import { runSchemasCommand } from './schemas.command';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) }, out, err };
}

/** An Avro record schema (.avsc), as far as these specs change it. */
interface AvroRecordSchema {
  fields: Array<{ name: string; type: unknown; default?: unknown }>;
}

function schemasWith(change: (eventSchema: AvroRecordSchema) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'schemas-'));
  cpSync(SCHEMAS_DIR, dir, { recursive: true });
  const file = join(dir, 'klaviyo-event.avsc');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as AvroRecordSchema;
  change(schema);
  writeFileSync(file, JSON.stringify(schema, null, 2));
  return dir;
}

describe('cli schemas register / check against the real registry', () => {
  const config = testConfig();

  beforeAll(async () => {
    const c = capture();
    expect(await runSchemasCommand(['register'], config, c.io)).toBe(0);
    expect(c.out.join('\n')).toContain(`${config.kafka.topicPrefix}klaviyo.events.v1-value`);
  });

  it('passes when nothing changed', async () => {
    const c = capture();
    expect(await runSchemasCommand(['check'], config, c.io)).toBe(0);
    expect(c.out.every((l) => l.includes('unchanged'))).toBe(true);
  });

  it('passes a compatible change (new optional field with a default)', async () => {
    const dir = schemasWith((s) => s.fields.push({ name: 'channel', type: ['null', 'string'], default: null }));
    const c = capture();
    expect(await runSchemasCommand(['check', '--dir', dir], config, c.io)).toBe(0);
    expect(c.out.find((l) => l.includes('klaviyo.events.v1-value'))).toContain('compatible');
  });

  it('fails an incompatible change and names the field', async () => {
    const dir = schemasWith((s) => s.fields.push({ name: 'channel', type: 'string' }));
    const c = capture();
    expect(await runSchemasCommand(['check', '--dir', dir], config, c.io)).toBe(1);
    const line = c.out.find((l) => l.includes('klaviyo.events.v1-value'))!;
    expect(line).toContain('incompatible');
    expect(line).toContain('channel');
    expect(c.err.join('\n')).toMatch(/BACKWARD/);
  });

  it('fails a type change of an existing field', async () => {
    const dir = schemasWith((s) => {
      const backfill = s.fields.find((f) => f.name === 'backfill')!;
      backfill.type = 'string';
      delete backfill.default;
    });
    const c = capture();
    expect(await runSchemasCommand(['check', '--dir', dir], config, c.io)).toBe(1);
  });
});
