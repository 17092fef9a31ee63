import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { KafkaConfig } from '@iks/config';
import type * as avro from 'avsc';
import { allTopics, topicSpec, type RecordKey, type Topic, type TopicRecords } from './topics';
import { RecordDecodeError } from './record-decode.error';
import { backwardIncompatibility, loadSchema, SCHEMAS_DIR } from './schemas';
import { wellFormedStrings } from './well-formed';

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|fetch failed|socket hang up/i;

/**
 * How long one schema registry request may take before it is sent again, and how many times. Without
 * a bound a registry that accepts the connection and never answers held a start for undici's 300 s
 * headers timeout (the codec's own calls) or with no bound of ours (the registry client's); the calls are
 * idempotent (the same schema registers under the same id).
 */
export const REGISTRY_REQUEST_TIMEOUT_MS = 15_000;
const REGISTRY_ATTEMPTS = 3;

/** The registry did not answer one request in time, REGISTRY_ATTEMPTS times. */
export class SchemaRegistryTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, attempts: number) {
    super(`schema registry ${what}: no answer within ${timeoutMs} ms, ${attempts} tries (SCHEMA_REGISTRY_URL)`);
    this.name = 'SchemaRegistryTimeoutError';
  }
}

/** The registry cannot answer now (network, 5xx, credentials, rate limit): the stage's problem, not the record's. */
function registryUnavailable(e: unknown): boolean {
  const err = e as { message?: string; status?: number; code?: string; cause?: { code?: string } } | null;
  if (!err || typeof err !== 'object') return false;
  if (NETWORK.test(`${err.code ?? ''} ${err.cause?.code ?? ''} ${err.message ?? ''}`)) return true;
  return (
    err.status !== undefined && (err.status >= 500 || err.status === 401 || err.status === 403 || err.status === 429)
  );
}

/** How a writer schema's records are read with a topic's schema: as they are (same schema) or through a resolver. */
type Reading =
  { readonly ok: true; readonly resolver?: avro.Resolver } | { readonly ok: false; readonly reason: string };

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
  /** Per record kind: its schema's type, and per writer schema id how to read a record with it. */
  private readonly kinds = new Map<
    RecordKey,
    { readonly reader: avro.Type; readonly readings: Map<number, Reading> }
  >();

  constructor(
    private readonly config: Pick<KafkaConfig, 'schemaRegistryUrl' | 'schemaRegistryAuth' | 'topicPrefix'>,
    private readonly schemasDir = SCHEMAS_DIR,
    private readonly requestTimeoutMs = REGISTRY_REQUEST_TIMEOUT_MS,
  ) {
    this.registry = new SchemaRegistry({
      host: config.schemaRegistryUrl,
      clientId: 'intercom-klaviyo-sync',
      auth: config.schemaRegistryAuth
        ? { username: config.schemaRegistryAuth.username, password: config.schemaRegistryAuth.password.reveal() }
        : undefined,
      retry: { retries: 3 },
    });
  }

  /** Register every topic's value schema (idempotent) and remember the ids for encoding; `dir`: the schemas of another checkout (cli schemas --dir). */
  async registerAll(dir = this.schemasDir): Promise<Map<string, number>> {
    for (const t of allTopics(this.config.topicPrefix)) {
      this.ids.set(t.name, await this.registerOne(`${t.name}-value`, loadSchema(t.schemaFile, dir).text));
    }
    return new Map(this.ids);
  }

  async registerOne(subject: string, schema: string): Promise<number> {
    await this.http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: COMPATIBILITY.BACKWARD });
    const { id } = await this.bounded(`register ${subject}`, () =>
      this.registry.register({ type: SchemaType.AVRO, schema }, { subject, compatibility: COMPATIBILITY.BACKWARD }),
    );
    return id;
  }

  /**
   * One registry request, given up after requestTimeoutMs and sent again, REGISTRY_ATTEMPTS times
   * in all; then SchemaRegistryTimeoutError. `call` gets a signal that aborts at the timeout (the
   * registry client's requests cannot be aborted: their answer is then ignored).
   */
  private async bounded<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const signal = AbortSignal.timeout(this.requestTimeoutMs);
      const timedOut = new Promise<'timeout'>((res) => signal.addEventListener('abort', () => res('timeout')));
      const answer = call(signal);
      try {
        const r = await Promise.race([answer, timedOut]);
        if (r !== 'timeout') return r;
      } catch (e) {
        if (!signal.aborted) throw e;
      }
      answer.catch(() => undefined); // the abandoned request's own end
      if (attempt >= REGISTRY_ATTEMPTS) throw new SchemaRegistryTimeoutError(what, this.requestTimeoutMs, attempt);
    }
  }

  /** Compare every local schema with the latest registered version (BACKWARD rule). */
  async checkAll(dir = this.schemasDir): Promise<SchemaCheckResult[]> {
    const out: SchemaCheckResult[] = [];
    for (const t of allTopics(this.config.topicPrefix)) {
      out.push(await this.checkOne(`${t.name}-value`, loadSchema(t.schemaFile, dir).text));
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
    const compat = await this.http('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, {
      schema,
    });
    const registryOk =
      compat.status === 200 ? (compat.body as { is_compatible: boolean }).is_compatible : local === null;
    if (local === null && registryOk) return { subject, status: 'compatible' };
    return { subject, status: 'incompatible', reason: local ?? 'the registry rejects it under BACKWARD compatibility' };
  }

  private async http(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = {
      'content-type': 'application/vnd.schemaregistry.v1+json',
      accept: 'application/json',
    };
    const auth = this.config.schemaRegistryAuth;
    if (auth)
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}`;
    const { res, text } = await this.bounded(`${method} ${path}`, async (signal) => {
      const r = await fetch(`${this.config.schemaRegistryUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      return { res: r, text: await r.text() };
    });
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
    if (id === undefined)
      throw new SchemaContractError(`no registered schema for topic ${topic} (registerAll() first)`);
    return id;
  }

  /** Encodes an Avro record for `topic` (registered by registerAll()). Prefer encodeAs: it is typed by the topic registry. */
  async encode(topic: string, value: object): Promise<Buffer> {
    // Avro strings are UTF-8: a lone surrogate becomes U+FFFD here, whatever the string's length (well-formed.ts)
    return this.registry.encode(this.idFor(topic), wellFormedStrings(value));
  }

  /** A record of the topic's type, in the topic's schema. */
  async encodeAs<K extends RecordKey>(topic: Topic<K>, record: TopicRecords[K]): Promise<Buffer> {
    return this.encode(topic.name, topicSpec(topic.key).toAvro(record));
  }

  /** Decodes with the writer's schema, whatever it is (a dead letter's value shown as is). */
  async decode(buffer: Buffer): Promise<unknown> {
    return this.registry.decode(buffer);
  }

  /**
   * The record of kind `key` (a topic of the registry, or `dlq`) in `buffer`, read against the
   * kind's own schema (schemas/*.avsc) through Avro schema resolution from the writer's schema.
   * Bytes that are not such a record (not Confluent-framed, an unknown schema id, a writer schema
   * this schema cannot read, a value that does not fit the record type) throw RecordDecodeError:
   * a dead letter. A registry that cannot answer now is rethrown as is (retried).
   */
  async decodeAs<K extends RecordKey>(key: K, buffer: Buffer | null): Promise<TopicRecords[K]> {
    const spec = topicSpec(key);
    if (!buffer || buffer.length === 0) throw new RecordDecodeError('empty record value');
    if (buffer.length < 5 || buffer[0] !== 0)
      throw new RecordDecodeError(
        "cannot decode the record as Avro: not in Confluent's wire format (magic byte 0, schema id)",
      );
    const id = buffer.readInt32BE(1);
    let kind = this.kinds.get(key);
    if (!kind)
      this.kinds.set(key, (kind = { reader: loadSchema(spec.schemaFile, this.schemasDir).type, readings: new Map() }));
    const reader = kind.reader;
    const reading = kind.readings.get(id) ?? (await this.readingOf(kind.readings, id, reader));
    if (!reading.ok)
      throw new RecordDecodeError(
        `cannot decode the record as Avro: written with schema id ${id}, which ${spec.schemaFile} cannot read: ${reading.reason}`,
      );
    let avroValue: unknown;
    try {
      avroValue = reader.fromBuffer(buffer.subarray(5), reading.resolver);
    } catch (e) {
      throw new RecordDecodeError(`cannot decode the record as Avro (schema id ${id}): ${(e as Error).message}`);
    }
    try {
      // avsc has just read it against the kind's schema: it has that schema's shape
      return spec.fromAvro(avroValue as Parameters<typeof spec.fromAvro>[0]);
    } catch (e) {
      throw new RecordDecodeError(`record does not fit ${spec.schemaFile}: ${(e as Error).message}`);
    }
  }

  private async readingOf(byId: Map<number, Reading>, id: number, reader: avro.Type): Promise<Reading> {
    let writer: avro.Type;
    try {
      writer = (await this.registry.getSchema(id)) as unknown as avro.Type;
    } catch (e) {
      if (registryUnavailable(e)) throw e;
      // not cached: the id may be registered later (another registry, a restore)
      return { ok: false, reason: `the registry does not know it (${(e as Error).message})` };
    }
    let reading: Reading;
    try {
      reading = reader.equals(writer) ? { ok: true } : { ok: true, resolver: reader.createResolver(writer) };
    } catch (e) {
      reading = { ok: false, reason: (e as Error).message };
    }
    byId.set(id, reading);
    return reading;
  }
}

/** JSON with sorted keys, so that two spellings of one schema compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
