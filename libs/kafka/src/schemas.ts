import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as avro from 'avsc';

function findSchemasDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'schemas', 'intercom-notification.avsc'))) return join(dir, 'schemas');
    if (dirname(dir) === dir) throw new Error(`cannot find schemas/ above ${from}`);
  }
}

/** The project's schemas/ folder (works from sources and from dist/). */
export const SCHEMAS_DIR = findSchemasDir(__dirname);

const cache = new Map<string, { text: string; type: avro.Type }>();

export function loadSchema(file: string, dir = SCHEMAS_DIR): { text: string; type: avro.Type } {
  const path = join(dir, file);
  let s = cache.get(path);
  if (!s) {
    const text = readFileSync(path, 'utf8');
    s = { text, type: avro.Type.forSchema(JSON.parse(text), { logicalTypes: {} }) };
    cache.set(path, s);
  }
  return s;
}

/**
 * BACKWARD compatibility (Confluent's definition): consumers using the NEW schema can read
 * data written with the OLD one. avsc's resolver says exactly that, and names the field.
 * Returns null when compatible, else the reason.
 */
export function backwardIncompatibility(newSchema: string, oldSchema: string): string | null {
  const reader = avro.Type.forSchema(JSON.parse(newSchema));
  const writer = avro.Type.forSchema(JSON.parse(oldSchema));
  try {
    reader.createResolver(writer);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
