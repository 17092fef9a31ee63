import { readFile } from 'node:fs/promises';
import type { KlaviyoRecord } from '@iks/domain';
import {
  mapNotification,
  MappingError,
  staticLookups,
  type IntercomNotificationInput,
  type MappingOptions,
} from '@iks/mapping';
import type {
  IntercomAdmin,
  IntercomContact,
  IntercomSubscriptionType,
  IntercomTag,
  IntercomTeam,
  Loose,
} from '@iks/intercom';
import type { CliIo } from '../cli-io';
import { MAP_USAGE, parseMapArgs, type MapArgs } from './map.args';

/** A usage or input problem: exit code 2. */
class UsageError extends Error {}

/**
 * `map`: run one Intercom notification through the same mapNotification the
 * transformer uses, offline, with directory data from files. Prints one JSON object per
 * Klaviyo record on stdout; skip / pending reasons go to stderr (exit 0). Exit 2 on a
 * missing argument or an unreadable / invalid file, 1 on a payload that cannot be mapped.
 */
export async function runMapCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseMapArgs(args);
  if (!parsed.ok) {
    io.stderr(`${parsed.error}\nusage: map ${MAP_USAGE}`);
    return 2;
  }
  return runMap(parsed.value, io);
}

/** `map` with its arguments checked (main.ts parses them with the same declaration). */
export async function runMap(a: MapArgs, io: CliIo): Promise<number> {
  try {
    const body = await readJson(a.notification);
    const n = notificationInput(body, a.notification, a.backfill);
    const lookups = staticLookups({
      contacts: a.files.contacts
        ? objectList<Loose<IntercomContact>>(await readJson(a.files.contacts), a.files.contacts, ['data', 'contacts'])
        : [],
      admins: a.files.admins
        ? objectList<Loose<IntercomAdmin>>(await readJson(a.files.admins), a.files.admins, ['admins', 'data'])
        : [],
      teams: a.files.teams
        ? objectList<Loose<IntercomTeam>>(await readJson(a.files.teams), a.files.teams, ['teams', 'data'])
        : [],
      tags: a.files.tags
        ? objectList<Loose<IntercomTag>>(await readJson(a.files.tags), a.files.tags, ['data', 'tags'])
        : [],
      subscriptions: a.files.subscriptions
        ? subscriptionMap(await readJson(a.files.subscriptions), a.files.subscriptions)
        : {},
      deletedContactIds: [...a.deleted],
    });
    const options: MappingOptions = {};
    if (a.deleteOnArchive) options.deleteOnArchive = true;
    if (a.phoneRegion !== null) options.defaultPhoneRegion = a.phoneRegion;
    const outcome = mapNotification(n, lookups, options);
    switch (outcome.kind) {
      case 'records':
        for (const record of outcome.records) io.stdout(JSON.stringify(printable(record)));
        for (const note of outcome.notes) io.stderr(`note: ${note}`);
        return 0;
      case 'skip':
        io.stderr(`skip: ${outcome.reason}`);
        return 0;
      case 'pending':
        io.stderr(`pending: ${outcome.reason}${outcome.contactId ? ` (contact ${outcome.contactId})` : ''}`);
        return 0;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(err.message);
      return 2;
    }
    if (err instanceof MappingError) {
      io.stderr(`cannot map: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`invalid JSON in ${path}: ${(err as Error).message}`);
  }
}

/** The notification envelope as Intercom posts it: id, topic, created_at, data.item. */
function notificationInput(body: unknown, path: string, backfill: boolean): IntercomNotificationInput {
  if (!isObject(body)) throw new UsageError(`${path}: not a JSON object (expected an Intercom notification)`);
  const topic = body.topic;
  if (typeof topic !== 'string' || topic === '') throw new UsageError(`${path}: notification has no topic`);
  const id = typeof body.id === 'string' || typeof body.id === 'number' ? String(body.id) : undefined;
  if (id === undefined) throw new UsageError(`${path}: notification has no id`);
  const createdAt = Number(body.created_at);
  if (!Number.isFinite(createdAt)) throw new UsageError(`${path}: notification has no created_at`);
  return {
    notificationId: id,
    topic,
    createdAt: Math.floor(createdAt),
    source: backfill ? 'backfill' : 'webhook',
    body,
  };
}

/** A JSON array of objects, or Intercom's list envelope ({type:'list', data:[...]}, {admins:[...]}, {teams:[...]}). */
function objectList<T>(value: unknown, path: string, envelopeKeys: readonly string[]): T[] {
  let list: unknown = value;
  if (isObject(value)) {
    const key = envelopeKeys.find((k) => Array.isArray(value[k]));
    if (key === undefined)
      throw new UsageError(`${path}: expected a JSON array or an Intercom list (${envelopeKeys.join(' / ')})`);
    list = value[key];
  }
  if (!Array.isArray(list)) throw new UsageError(`${path}: expected a JSON array`);
  if (!list.every(isObject)) throw new UsageError(`${path}: every entry must be an object`);
  return list as T[];
}

/** `{ "<contact id>": [Subscription...] | {type:'list', data:[...]} }` (GET /contacts/{id}/subscriptions). */
function subscriptionMap(value: unknown, path: string): Record<string, Loose<IntercomSubscriptionType>[]> {
  if (!isObject(value) || Array.isArray(value))
    throw new UsageError(`${path}: expected an object from contact id to subscription list`);
  const out: Record<string, Loose<IntercomSubscriptionType>[]> = {};
  for (const [contactId, list] of Object.entries(value))
    out[contactId] = objectList<Loose<IntercomSubscriptionType>>(list, `${path} (${contactId})`, ['data']);
  return out;
}

/** What the command prints: the Klaviyo-facing fields of each record, in a fixed order. */
function printable(record: KlaviyoRecord): Record<string, unknown> {
  switch (record.kind) {
    case 'event':
      return {
        kind: 'event',
        metric: record.metric,
        profile: record.profile,
        properties: record.properties,
        time: record.time,
        unique_id: record.unique_id,
      };
    case 'profile': {
      const out: Record<string, unknown> = { kind: 'profile' };
      for (const key of ['email', 'phone_number', 'first_name', 'last_name', 'image', 'location'] as const)
        if (record[key] !== undefined) out[key] = record[key];
      out.properties = record.properties;
      return out;
    }
    case 'deletion': {
      const out: Record<string, unknown> = { kind: 'deletion' };
      if (record.email !== undefined) out.email = record.email;
      if (record.phone_number !== undefined) out.phone_number = record.phone_number;
      out.intercom_contact_id = record.intercom_contact_id;
      return out;
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
