import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { KafkaConfig } from '@iks/config';
import { allTopics } from './topics';
import { backwardIncompatibility, loadSchema, SCHEMAS_DIR } from './schemas';
import { wellFormedStrings } from './well-formed';

export class SchemaContractError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'SchemaContractError';
  }
}

export interface SchemaCheckResult {
  readonly subject: string;
  readonly status: 'new' | 'unchanged' | 'compatible' | 'incompatible';
  readonly reason?: string;
}

/**
 * Avro encoding in Confluent's wire format (magic byte + schema id) against a
 * Confluent-compatible registry (Apicurio's /apis/ccompat/v7 here). Subjects follow
 * TopicNameStrategy; compatibility is set to BACKWARD explicitly because Apicurio answers
 * NONE for a subject without its own rule.
 */
export class AvroCodec {
  readonly registry: SchemaRegistry;
  private readonly ids = new Map<string, number>();

  constructor(private readonly config: Pick<KafkaConfig, 'schemaRegistryUrl' | 'schemaRegistryAuth' | 'topicPrefix'>, private readonly schemasDir = SCHEMAS_DIR) {
    this.registry = new SchemaRegistry({
      host: config.schemaRegistryUrl,
      clientId: 'intercom-klaviyo-sync',
      auth: config.schemaRegistryAuth
        ? { username: config.schemaRegistryAuth.username, password: config.schemaRegistryAuth.password.reveal() }
        : undefined,
      retry: { retries: 3 },
    });
  }

  /** Register every topic's value schema (idempotent) and remember the ids for encoding. */
  async registerAll(): Promise<Map<string, number>> {
    for (const t of allTopics(this.config.topicPrefix)) {
      this.ids.set(t.name, await this.registerOne(`${t.name}-value`, loadSchema(t.schemaFile, this.schemasDir).text));
    }
    return new Map(this.ids);
  }

  async registerOne(subject: string, schema: string): Promise<number> {
    await this.http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: COMPATIBILITY.BACKWARD });
    const { id } = await this.registry.register({ type: SchemaType.AVRO, schema }, { subject, compatibility: COMPATIBILITY.BACKWARD });
    return id;
  }

  /** Compare every local schema with the latest registered version (BACKWARD rule). */
  async checkAll(): Promise<SchemaCheckResult[]> {
    const out: SchemaCheckResult[] = [];
    for (const t of allTopics(this.config.topicPrefix)) {
      out.push(await this.checkOne(`${t.name}-value`, loadSchema(t.schemaFile, this.schemasDir).text));
    }
    return out;
  }

  async checkOne(subject: string, schema: string): Promise<SchemaCheckResult> {
    const res = await this.http('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (res.status === 404) return { subject, status: 'new' };
    const latest = (res.body as { schema: string }).schema;
    if (canonical(JSON.parse(latest)) === canonical(JSON.parse(schema))) return { subject, status: 'unchanged' };
    const local = backwardIncompatibility(schema, latest);
    // Ask the registry too: it is the authority the producers will meet.
    const compat = await this.http('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, { schema });
    const registryOk = compat.status === 200 ? (compat.body as { is_compatible: boolean }).is_compatible : local === null;
    if (local === null && registryOk) return { subject, status: 'compatible' };
    return { subject, status: 'incompatible', reason: local ?? 'the registry rejects it under BACKWARD compatibility' };
  }

  private async http(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/json' };
    const auth = this.config.schemaRegistryAuth;
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}`;
    const res = await fetch(`${this.config.schemaRegistryUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: keep the text for the error message */
    }
    if (!res.ok && res.status !== 404 && res.status !== 409) {
      throw new SchemaContractError(`schema registry ${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
    }
    return { status: res.status, body: parsed };
  }

  idFor(topic: string): number {
    const id = this.ids.get(topic);
    if (id === undefined) throw new SchemaContractError(`no registered schema for topic ${topic} (registerAll() first)`);
    return id;
  }

  async encode(topic: string, value: Record<string, unknown>): Promise<Buffer> {
    // Avro strings are UTF-8: a lone surrogate becomes U+FFFD here, whatever the string's length (well-formed.ts)
    return this.registry.encode(this.idFor(topic), wellFormedStrings(value));
  }

  async decode<T = any>(buffer: Buffer): Promise<T> {
    return (await this.registry.decode(buffer)) as T;
  }
}

/** JSON with sorted keys, so that two spellings of one schema compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
