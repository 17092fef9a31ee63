import { readFile } from 'node:fs/promises';
import type { KlaviyoRecord } from '@iks/domain';
import {
  mapNotification,
  MappingError,
  staticLookups,
  type IntercomAdmin,
  type IntercomContact,
  type IntercomNotificationInput,
  type IntercomSubscriptionType,
  type IntercomTag,
  type IntercomTeam,
  type MappingOptions,
} from '@iks/mapping';

export interface CommandIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const USAGE =
  'usage: map <notification.json> [--contacts contacts.json] [--admins admins.json] [--teams teams.json] [--tags tags.json] [--subscriptions subs.json] [--deleted id,id] [--backfill] [--phone-region CC] [--delete-on-archive]';

const FILE_OPTIONS = ['contacts', 'admins', 'teams', 'tags', 'subscriptions'] as const;
type FileOption = (typeof FILE_OPTIONS)[number];

/** A usage or input problem: exit code 2. */
class UsageError extends Error {}

/**
 * `map`: run one Intercom notification through the same mapNotification the
 * transformer uses, offline, with directory data from files. Prints one JSON object per
 * Klaviyo record on stdout; skip / pending reasons go to stderr (exit 0). Exit 2 on a
 * missing argument or an unreadable / invalid file, 1 on a payload that cannot be mapped.
 */
export async function runMapCommand(args: string[], io: CommandIo): Promise<number> {
  try {
    const parsed = parseArgs(args);
    const body = await readJson(parsed.notification);
    const n = notificationInput(body, parsed.notification, parsed.backfill);
    const lookups = staticLookups({
      contacts: parsed.files.contacts ? objectList<IntercomContact>(await readJson(parsed.files.contacts), parsed.files.contacts, ['data', 'contacts']) : [],
      admins: parsed.files.admins ? objectList<IntercomAdmin>(await readJson(parsed.files.admins), parsed.files.admins, ['admins', 'data']) : [],
      teams: parsed.files.teams ? objectList<IntercomTeam>(await readJson(parsed.files.teams), parsed.files.teams, ['teams', 'data']) : [],
      tags: parsed.files.tags ? objectList<IntercomTag>(await readJson(parsed.files.tags), parsed.files.tags, ['data', 'tags']) : [],
      subscriptions: parsed.files.subscriptions ? subscriptionMap(await readJson(parsed.files.subscriptions), parsed.files.subscriptions) : {},
      deletedContactIds: parsed.deleted,
    });
    const outcome = mapNotification(n, lookups, parsed.options);
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

interface ParsedArgs {
  notification: string;
  files: Partial<Record<FileOption, string>>;
  deleted: string[];
  backfill: boolean;
  options: MappingOptions;
}

function parseArgs(args: string[]): ParsedArgs {
  const files: Partial<Record<FileOption, string>> = {};
  const positional: string[] = [];
  const options: MappingOptions = {};
  let deleted: string[] = [];
  let backfill = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--backfill') backfill = true;
    else if (flag === '--delete-on-archive') options.deleteOnArchive = true;
    else if (flag === '--phone-region') options.defaultPhoneRegion = value();
    else if (flag === '--deleted') deleted = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (flag.startsWith('--') && (FILE_OPTIONS as readonly string[]).includes(flag.slice(2))) files[flag.slice(2) as FileOption] = value();
    else if (flag.startsWith('--')) throw new UsageError(`unknown option ${flag}\n${USAGE}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? `missing <notification.json>\n${USAGE}` : `unexpected argument ${positional[1]}\n${USAGE}`);
  return { notification: positional[0], files, deleted, backfill, options };
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
  return { notificationId: id, topic, createdAt: Math.floor(createdAt), source: backfill ? 'backfill' : 'webhook', body };
}

/** A JSON array of objects, or Intercom's list envelope ({type:'list', data:[...]}, {admins:[...]}, {teams:[...]}). */
function objectList<T>(value: unknown, path: string, envelopeKeys: readonly string[]): T[] {
  let list: unknown = value;
  if (isObject(value)) {
    const key = envelopeKeys.find((k) => Array.isArray(value[k]));
    if (key === undefined) throw new UsageError(`${path}: expected a JSON array or an Intercom list (${envelopeKeys.join(' / ')})`);
    list = value[key];
  }
  if (!Array.isArray(list)) throw new UsageError(`${path}: expected a JSON array`);
  if (!list.every(isObject)) throw new UsageError(`${path}: every entry must be an object`);
  return list as T[];
}

/** `{ "<contact id>": [Subscription...] | {type:'list', data:[...]} }` (GET /contacts/{id}/subscriptions). */
function subscriptionMap(value: unknown, path: string): Record<string, IntercomSubscriptionType[]> {
  if (!isObject(value) || Array.isArray(value)) throw new UsageError(`${path}: expected an object from contact id to subscription list`);
  const out: Record<string, IntercomSubscriptionType[]> = {};
  for (const [contactId, list] of Object.entries(value)) out[contactId] = objectList<IntercomSubscriptionType>(list, `${path} (${contactId})`, ['data']);
  return out;
}

/** What the command prints: the Klaviyo-facing fields of each record, in a fixed order. */
function printable(record: KlaviyoRecord): Record<string, unknown> {
  switch (record.kind) {
    case 'event':
      return { kind: 'event', metric: record.metric, profile: record.profile, properties: record.properties, time: record.time, unique_id: record.unique_id };
    case 'profile': {
      const out: Record<string, unknown> = { kind: 'profile' };
      for (const key of ['email', 'phone_number', 'first_name', 'last_name', 'image', 'location'] as const) if (record[key] !== undefined) out[key] = record[key];
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
