import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { compressSync, uncompressSync } from 'lz4-napi';
import type { RawNotification } from '@iks/domain';
import { nextIv } from './iv-pool';
import { ErasedSubjectError, subjectId, unlessErased, type Subject, type SubjectKeys } from './subject-keys';

/**
 * A value that names several people, sealed so that erasing any one of them makes it unreadable
 * (docs/ERASURE.md, the raw topic's `body_sealed`): the value under a random record key
 * (AES-256-GCM), the record key split into XOR shares, one per subject, each share sealed under
 * its subject's key (SubjectKeys.seal). Opening needs every share, so every subject's key.
 *
 * Layout (integers big-endian):
 *
 *     [FORMAT=2][share count u16]
 *     per share: [connection id length u16][connection id][contact id length u16][contact id]
 *                [sealed share length u16][sealed share]
 *     [iv 12][tag 16][ciphertext of [codec u8][payload]]
 *
 * Everything before the iv is the value's additional data: a share cannot be swapped for
 * another record's, nor a subject dropped, without the value failing to open. The subjects are
 * ids (no personal data), readable without any key: `sharedSubjects` gives them.
 *
 * Cost (ingest seals every webhook): a record key and its sealed shares are made once per set of
 * subjects and reused for at most RECORD_KEY_USES values or RECORD_KEY_MS, each value under its
 * own random iv; so a webhook costs one AES-256-GCM pass over its body, not one more per
 * subject. Erasure is unchanged: the shares are under the subjects' keys, and a set with an
 * erased subject is not reused (its next value gets a throw-away share, SubjectKeys.seal).
 */
/**
 * 2: the sealed bytes are `[codec][payload]`, codec 0 the value as is, 1 an LZ4 block (lz4-napi's
 * size-prepended block) when that is smaller (1 never landed: the value as is). Ciphertext does not
 * compress, so the raw topic's batches are written uncompressed (NotificationWriter): a webhook's
 * JSON compressed on its own before the seal is about 2.2x smaller for 5-13 µs.
 */
const FORMAT = 2;
const CODEC_NONE = 0;
const CODEC_LZ4 = 1;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_U16 = 0xffff;
/** How many values one record key seals at most (GCM with random ivs stays far below its 2^32 bound). */
const RECORD_KEY_USES = 4096;
/** How long one record key is used at most. */
const RECORD_KEY_MS = 5 * 60_000;
/** Subject sets remembered per SubjectKeys (the oldest forgotten first). */
const CACHED_SETS = 4096;

interface RecordKey {
  readonly key: Buffer;
  readonly header: Buffer;
  readonly subjects: readonly Subject[];
  readonly until: number;
  uses: number;
}

/** Record keys by subject set, per SubjectKeys (the process's). */
const recordKeys = new WeakMap<SubjectKeys, Map<string, RecordKey>>();

/**
 * Record keys opened, by the header they were opened from (the subjects and their sealed
 * shares, which the writer reuses for up to RECORD_KEY_USES values): a reader opens each set's
 * shares once, not once a value. Forgotten at once when SubjectKeys destroys any key
 * (`destroyed` moves: an erasure, a late key), and an erased subject is refused before the
 * cache is asked, so no value of an erased person opens from here.
 */
interface OpenedKeys {
  destroyed: number;
  readonly byHeader: Map<string, Buffer>;
}
const openedKeys = new WeakMap<SubjectKeys, OpenedKeys>();
/** Opened record keys kept per SubjectKeys (the oldest forgotten first). */
const CACHED_OPENED = 4096;

function openedFor(keys: SubjectKeys): Map<string, Buffer> {
  let o = openedKeys.get(keys);
  if (!o) openedKeys.set(keys, (o = { destroyed: keys.destroyed, byHeader: new Map() }));
  if (o.destroyed !== keys.destroyed) {
    // let go, not zeroed: an open that took a key from here a moment ago may still be using it
    o.byHeader.clear();
    o.destroyed = keys.destroyed;
  }
  return o.byHeader;
}

/** Bytes that are not a value sealed by sealShared (cut short, another format). */
export class NotSharedSealError extends Error {
  readonly retriable = false;
  constructor(why: string) {
    super(`not a multi-subject sealed value: ${why}`);
    this.name = 'NotSharedSealError';
  }
}

/** The subjects, deduplicated in their first order: one share each. */
export function distinctSubjects(subjects: readonly Subject[]): Subject[] {
  const seen = new Set<string>();
  const out: Subject[] = [];
  for (const s of subjects) {
    const id = subjectId(s);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(s);
  }
  return out;
}

/**
 * `clear` sealed for `subjects` (at least one; duplicates get one share). A subject already
 * erased gets its share under a throw-away key (SubjectKeys.seal): the value never opens. The
 * first sight of a subject writes its key (acks all) before this resolves.
 */
export async function sealShared(keys: SubjectKeys, subjects: readonly Subject[], clear: Buffer): Promise<Buffer> {
  const rk = await recordKeyFor(keys, subjects);
  rk.uses++;
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', rk.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(rk.header);
  const packed = clear.length > 64 ? compressSync(clear) : null;
  const [codec, payload] = packed && packed.length < clear.length ? [CODEC_LZ4, packed] : [CODEC_NONE, clear];
  const first = cipher.update(Buffer.from([codec]));
  const body = cipher.update(payload);
  const last = cipher.final();
  return Buffer.concat([rk.header, iv, cipher.getAuthTag(), first, body, last]);
}

/** The record key of this subject set now: the one in use, or a new one with its shares sealed. */
async function recordKeyFor(keys: SubjectKeys, subjects: readonly Subject[]): Promise<RecordKey> {
  let sets = recordKeys.get(keys);
  if (!sets) recordKeys.set(keys, (sets = new Map()));
  const id = subjects.length === 1 ? subjectId(subjects[0]) : subjects.map(subjectId).join('\u0000');
  const known = sets.get(id);
  if (
    known &&
    known.uses < RECORD_KEY_USES &&
    Date.now() < known.until &&
    !known.subjects.some((s) => keys.isErased(s))
  )
    return known;
  const made = await makeRecordKey(keys, distinctSubjects(subjects));
  if (known) known.key.fill(0);
  sets.delete(id);
  if (sets.size >= CACHED_SETS) {
    const oldest = sets.keys().next().value as string;
    sets.get(oldest)?.key.fill(0);
    sets.delete(oldest);
  }
  sets.set(id, made);
  return made;
}

async function makeRecordKey(keys: SubjectKeys, distinct: readonly Subject[]): Promise<RecordKey> {
  if (distinct.length === 0) throw new Error('sealShared needs at least one subject');
  if (distinct.length > MAX_U16) throw new Error(`sealShared: ${distinct.length} subjects (at most ${MAX_U16})`);
  const n = distinct.length;
  // one draw for the record key and the n - 1 random shares
  const random = randomBytes(KEY_BYTES * n);
  const key = Buffer.from(random.subarray(0, KEY_BYTES));
  const shares: Buffer[] = [];
  const last = Buffer.from(key);
  for (let i = 1; i < n; i++) {
    const share = random.subarray(KEY_BYTES * i, KEY_BYTES * (i + 1));
    for (let k = 0; k < KEY_BYTES; k++) last[k] ^= share[k];
    shares.push(share);
  }
  shares.push(last);
  const sealedShares = await Promise.all(distinct.map((s, i) => keys.seal(s, shares[i])));
  last.fill(0);
  random.fill(0);
  const parts: Buffer[] = [u16(n, Buffer.from([FORMAT, 0, 0]), 1)];
  distinct.forEach((s, i) => {
    parts.push(lengthPrefixed(Buffer.from(s.connectionId, 'utf8'), 'connection id'));
    parts.push(lengthPrefixed(Buffer.from(s.contactId, 'utf8'), 'contact id'));
    parts.push(lengthPrefixed(sealedShares[i], 'sealed share'));
  });
  return { key, header: Buffer.concat(parts), subjects: distinct, until: Date.now() + RECORD_KEY_MS, uses: 0 };
}

interface Parsed {
  readonly subjects: Subject[];
  readonly sealedShares: Buffer[];
  readonly headerEnd: number;
}

function parse(sealed: Buffer): Parsed {
  if (sealed.length < 3) throw new NotSharedSealError(`${sealed.length} byte(s)`);
  if (sealed[0] !== FORMAT) throw new NotSharedSealError(`format ${sealed[0]}`);
  const n = sealed.readUInt16BE(1);
  let at = 3;
  const field = (what: string): Buffer => {
    if (at + 2 > sealed.length) throw new NotSharedSealError(`cut short in the ${what}`);
    const len = sealed.readUInt16BE(at);
    if (at + 2 + len > sealed.length) throw new NotSharedSealError(`cut short in the ${what}`);
    const b = sealed.subarray(at + 2, at + 2 + len);
    at += 2 + len;
    return b;
  };
  const subjects: Subject[] = [];
  const sealedShares: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const connectionId = field('connection id').toString('utf8');
    const contactId = field('contact id').toString('utf8');
    subjects.push({ connectionId, contactId });
    sealedShares.push(field('sealed share'));
  }
  if (n === 0) throw new NotSharedSealError('no share');
  if (at + IV_BYTES + TAG_BYTES > sealed.length) throw new NotSharedSealError('cut short before the value');
  return { subjects, sealedShares, headerEnd: at };
}

/** The subjects a sealed value is sealed for (ids only; no key needed): what `cli dlq show` and a test can say of it. */
export function sharedSubjects(sealed: Buffer): Subject[] {
  return parse(sealed).subjects;
}

/**
 * The clear value of `sealed`. ErasedSubjectError (naming the first erased subject) when any
 * one of its subjects is erased; SubjectKeys.open waits for a key this process has not read yet
 * (another process sealed a moment ago). An altered value fails (not an erasure).
 */
export async function openShared(keys: SubjectKeys, sealed: Buffer): Promise<Buffer> {
  const { subjects, sealedShares, headerEnd } = parse(sealed);
  // an erased subject known here answers without a round trip
  const erased = subjects.find((s) => keys.isErased(s));
  if (erased) throw new ErasedSubjectError(subjectId(erased));
  const header = sealed.subarray(0, headerEnd);
  const cacheKey = header.toString('latin1');
  const recordKey = openedFor(keys).get(cacheKey) ?? (await openRecordKey(keys, subjects, sealedShares, cacheKey));
  const iv = sealed.subarray(headerEnd, headerEnd + IV_BYTES);
  const tag = sealed.subarray(headerEnd + IV_BYTES, headerEnd + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', recordKey, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  let opened: Buffer;
  try {
    opened = Buffer.concat([decipher.update(sealed.subarray(headerEnd + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new Error(
      `a value sealed for ${subjects.map(subjectId).join(', ')} does not open under its record key: altered`,
    );
  }
  if (opened.length < 1) throw new NotSharedSealError('no codec byte');
  if (opened[0] === CODEC_NONE) return opened.subarray(1);
  if (opened[0] === CODEC_LZ4) return uncompressSync(opened.subarray(1));
  throw new NotSharedSealError(`codec ${opened[0]}`);
}

/** The record key of a header: every share opened under its subject's key and XORed; kept in the opened-keys cache. */
async function openRecordKey(
  keys: SubjectKeys,
  subjects: readonly Subject[],
  sealedShares: readonly Buffer[],
  cacheKey: string,
): Promise<Buffer> {
  const destroyedBefore = keys.destroyed;
  const recordKey = Buffer.alloc(KEY_BYTES);
  try {
    for (let i = 0; i < subjects.length; i++) {
      const share = await keys.open(subjects[i], sealedShares[i]);
      if (share.length !== KEY_BYTES) throw new NotSharedSealError(`a share of ${share.length} bytes`);
      for (let k = 0; k < KEY_BYTES; k++) recordKey[k] ^= share[k];
      share.fill(0);
    }
  } catch (e) {
    recordKey.fill(0);
    throw e;
  }
  // kept only when no key was destroyed while the shares were being opened (keys.open may wait for the follower)
  if (keys.destroyed === destroyedBefore) {
    const cache = openedFor(keys);
    if (cache.size >= CACHED_OPENED) {
      cache.delete(cache.keys().next().value as string);
    }
    cache.set(cacheKey, recordKey);
  }
  return recordKey;
}

function u16(n: number, into: Buffer, at: number): Buffer {
  into.writeUInt16BE(n, at);
  return into;
}

function lengthPrefixed(b: Buffer, what: string): Buffer {
  if (b.length > MAX_U16) throw new Error(`sealShared: a ${what} of ${b.length} bytes (at most ${MAX_U16})`);
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/**
 * The subject a webhook of a workspace no connection claims yet is sealed for (the unclaimed
 * topic): its contact under the workspace's app_id, since there is no connection to name. The
 * sink erases it with the connection's own subject once Klaviyo accepted her deletion, so the
 * unclaimed originals stop opening too; `connections claim` opens them and seals the copies for
 * the claiming connection.
 */
export const unclaimedSubject = (appId: string, contactId: string): Subject => ({
  connectionId: `unclaimed:${appId}`,
  contactId,
});

/**
 * The notification with its body opened (`body_sealed` kept: a copy written from it stays
 * sealed), as it is when its body is clear (it names no contact, or was written before sealing),
 * or null when one of the people it names is erased: the body is unreadable for good.
 */
export async function openNotification(keys: SubjectKeys, n: RawNotification): Promise<RawNotification | null> {
  if (!n.body_sealed) return n;
  const body = await unlessErased(openShared(keys, n.body_sealed));
  return body && { ...n, body: body.toString('utf8') };
}
