import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '@iks/config';
import { allTopics, AvroCodec, KafkaModule, SCHEMAS_DIR } from '@iks/kafka';
import { createContext } from '@iks/ops';
import type { CliIo } from '../cli-io';
import { parseSchemasArgs, type SchemasArgs } from './schemas.args';

/**
 * `schemas register`: register every topic's value schema (BACKWARD) and print the ids.
 * `schemas check`: exit 1 when a local schema is not backward-compatible with the registered one,
 * naming the subject and the rule it breaks. `--dir` checks another folder of .avsc files.
 */
export async function runSchemasCommand(args: string[], config: Config, io: CliIo): Promise<number> {
  const parsed = parseSchemasArgs(args);
  if (!parsed.ok) {
    io.stderr(`schemas: ${parsed.error}\nusage: cli schemas register|check [--dir <folder>]`);
    return 2;
  }
  return runSchemas(parsed.value, config, io);
}

/** `schemas` with its arguments checked (main.ts parses them with the same declaration). */
export async function runSchemas(a: SchemasArgs, config: Config, io: CliIo): Promise<number> {
  const dir = a.dir ?? SCHEMAS_DIR;
  for (const t of allTopics()) {
    try {
      JSON.parse(readFileSync(join(dir, t.schemaFile), 'utf8'));
    } catch (e) {
      io.stderr(`schemas: cannot read ${join(dir, t.schemaFile)}: ${(e as Error).message}`);
      return 2;
    }
  }
  const app = await createContext(config, 'cli', KafkaModule);
  try {
    return await registerOrCheck(a, app.get(AvroCodec), dir, io);
  } finally {
    await app.close();
  }
}

async function registerOrCheck(a: SchemasArgs, codec: AvroCodec, dir: string, io: CliIo): Promise<number> {
  if (a.sub === 'register') {
    const ids = await codec.registerAll(dir);
    for (const [topic, id] of ids) io.stdout(`${topic}-value\tid ${id}\tBACKWARD`);
    return 0;
  }
  const results = await codec.checkAll(dir);
  let bad = 0;
  for (const r of results) {
    io.stdout(`${r.subject}\t${r.status}${r.reason ? `\t${r.reason}` : ''}`);
    if (r.status === 'incompatible') bad++;
  }
  if (bad > 0) {
    io.stderr(
      `schemas check: ${bad} schema(s) break BACKWARD compatibility (consumers on the new schema could not read existing data)`,
    );
    return 1;
  }
  return 0;
}
