import {
  connectionOf,
  type ContactSnapshot,
  type DeliveryOutcome,
  type KlaviyoDeletionRecord,
  type KlaviyoEventRecord,
  type KlaviyoProfileRecord,
  type KlaviyoRecord,
} from '@iks/domain';
import type { Subject } from './subject-keys';

/**
 * The personal fields of the records downstream of the raw topic (docs/ERASURE.md, "What is
 * sealed, where"): what identifies or describes the person (email, phone, names, image,
 * location, event and profile properties, the contact JSON) travels as one field `personal`,
 * sealed under the key of her subject (connection + Intercom contact id); ids, metric, times,
 * unique_id, the connection stay clear. `splitPersonal` / `joinPersonal` are the pure halves;
 * `sealPersonal` / `openPersonal` put SubjectKeys between them.
 */

/** What seals and opens a subject's field: SubjectKeys (seal, open), or a test's. */
export interface PersonalSealer {
  seal(subject: Subject, clear: Buffer): Promise<Buffer>;
  open(subject: Subject, sealed: Buffer): Promise<Buffer>;
}

/** A record that has personal fields and no subject to seal them under: refused (a dead letter), never written clear. */
export class NoSubjectError extends Error {
  readonly retriable = false;
  constructor(what: string) {
    super(
      `${what} has personal fields and no Intercom contact id to seal them under: not written (docs/ERASURE.md, records without a contact id)`,
    );
    this.name = 'NoSubjectError';
  }
}

export type SealableRecord = KlaviyoRecord | ContactSnapshot;

/** The personal part of an event: its profile identifiers and its properties. */
type EventPersonal = KlaviyoEventRecord['profile'] & Pick<KlaviyoEventRecord, 'properties'>;
type ProfilePersonal = Pick<
  KlaviyoProfileRecord,
  'email' | 'phone_number' | 'first_name' | 'last_name' | 'image' | 'location' | 'properties'
>;
type DeletionPersonal = Pick<KlaviyoDeletionRecord, 'email' | 'phone_number'>;
type ContactPersonal = Pick<ContactSnapshot, 'contact_json'>;

const isSnapshot = (r: SealableRecord): r is ContactSnapshot => !('kind' in r);

/** The subject of a record: its connection and Intercom contact id; null when it names no contact. */
export function subjectOf(
  r: SealableRecord | Pick<DeliveryOutcome, 'intercom_contact_id' | 'connection_id'>,
): Subject | null {
  const contactId = 'kind' in r || 'intercom_contact_id' in r ? r.intercom_contact_id : r.id;
  return contactId ? { connectionId: connectionOf(r), contactId } : null;
}

/** Whether a record holds anything personal in clear (the sealing's check). */
function hasPersonal(r: SealableRecord): boolean {
  if (isSnapshot(r)) return r.contact_json !== null;
  if (r.kind === 'event')
    return (
      r.profile.email !== undefined || r.profile.phone_number !== undefined || Object.keys(r.properties).length > 0
    );
  if (r.kind === 'deletion') return r.email !== undefined || r.phone_number !== undefined;
  return true;
}

/**
 * A record with its personal fields taken out: the clear record (those fields empty: absent,
 * null, `{}`) and the personal part as JSON bytes. A tombstone of the directory has none (null).
 */
export function splitPersonal<R extends SealableRecord>(r: R): { clear: R; personal: Buffer | null } {
  if (isSnapshot(r)) {
    if (r.contact_json === null) return { clear: r, personal: null };
    const personal: ContactPersonal = { contact_json: r.contact_json };
    return { clear: { ...r, contact_json: null }, personal: json(personal) };
  }
  switch (r.kind) {
    case 'event': {
      const personal: EventPersonal = { ...r.profile, properties: r.properties };
      return { clear: { ...r, profile: {}, properties: {} }, personal: json(personal) };
    }
    case 'profile': {
      const { email, phone_number, first_name, last_name, image, location, properties, ...rest } = r;
      const personal: ProfilePersonal = { email, phone_number, first_name, last_name, image, location, properties };
      return { clear: { ...rest, properties: {} } as R, personal: json(personal) };
    }
    case 'deletion': {
      const { email, phone_number, ...rest } = r;
      const personal: DeletionPersonal = { email, phone_number };
      return { clear: rest as R, personal: json(personal) };
    }
  }
}

/** The clear record back from its clear part and its opened personal part (the inverse of splitPersonal). */
export function joinPersonal<R extends SealableRecord>(clear: R, personal: Buffer): R {
  const p = JSON.parse(personal.toString('utf8')) as Record<string, unknown>;
  const { personal: _sealed, ...r } = clear as R & { personal?: Buffer };
  if (isSnapshot(clear)) return { ...r, contact_json: (p as unknown as ContactPersonal).contact_json } as R;
  const kind = (clear as KlaviyoRecord).kind;
  if (kind === 'event') {
    const e = p as unknown as EventPersonal;
    return { ...r, profile: defined({ email: e.email, phone_number: e.phone_number }), properties: e.properties } as R;
  }
  if (kind === 'profile') {
    const q = p as unknown as ProfilePersonal;
    return { ...r, ...defined({ ...q }), properties: q.properties } as R;
  }
  const d = p as unknown as DeletionPersonal;
  return { ...r, ...defined({ email: d.email, phone_number: d.phone_number }) } as R;
}

/**
 * The record as it is written: its personal fields sealed under its subject's key in `personal`,
 * the clear ones empty. A record with nothing personal is written as it is (a tombstone); one with
 * personal fields and no contact id is refused (NoSubjectError: the mapping never makes one, an
 * event is written for an identified contact only).
 */
export async function sealPersonal<R extends SealableRecord>(keys: PersonalSealer, r: R): Promise<R> {
  if ((r as { personal?: Buffer }).personal) return r; // sealed already
  const { clear, personal } = splitPersonal(r);
  if (personal === null) return r;
  const subject = subjectOf(r);
  if (!subject) {
    if (!hasPersonal(r)) return clear;
    throw new NoSubjectError(isSnapshot(r) ? 'a contact snapshot' : `a ${r.kind} record`);
  }
  return { ...clear, personal: await keys.seal(subject, personal) };
}

/**
 * The record with its personal fields opened (a record written before sealing is returned as it
 * is); ErasedSubjectError when its subject is erased.
 */
export async function openPersonal<R extends SealableRecord>(keys: PersonalSealer, r: R): Promise<R> {
  const sealed = (r as { personal?: Buffer }).personal;
  if (!sealed) return r;
  const subject = subjectOf(r);
  if (!subject) throw new Error('a sealed record without an Intercom contact id');
  return joinPersonal(r, await keys.open(subject, sealed));
}

/** An outcome's personal part opened: the email, phone and properties of the record it is about (its record_kind says the shape). */
export interface OutcomePersonal {
  readonly email: string | null;
  readonly phone_number: string | null;
  readonly properties_json: string | null;
}

/**
 * What an outcome's sealed `personal` (the consumed record's own) says, as the outcome's clear
 * fields would: an event's identifiers and properties, a profile's identifiers and attributes
 * (first_name, last_name, image, location, properties: what the sink's outcome subject holds),
 * a deletion's identifiers.
 */
export function outcomePersonal(recordKind: DeliveryOutcome['record_kind'], personal: Buffer): OutcomePersonal {
  const p = JSON.parse(personal.toString('utf8')) as Partial<ProfilePersonal>;
  const ids = { email: p.email ?? null, phone_number: p.phone_number ?? null };
  if (recordKind === 'event') return { ...ids, properties_json: JSON.stringify(p.properties ?? {}) };
  if (recordKind === 'profile') {
    const attributes = {
      first_name: p.first_name,
      last_name: p.last_name,
      image: p.image,
      location: p.location,
      properties: p.properties ?? {},
    };
    return { ...ids, properties_json: JSON.stringify(attributes) };
  }
  return { ...ids, properties_json: null };
}

/** An outcome with its personal part opened into its clear fields (one written before sealing: as it is); ErasedSubjectError when erased. */
export async function openOutcome(keys: PersonalSealer, o: DeliveryOutcome): Promise<DeliveryOutcome> {
  if (!o.personal) return o;
  const subject = subjectOf(o);
  if (!subject) throw new Error('a sealed outcome without an Intercom contact id');
  const opened = outcomePersonal(o.record_kind, await keys.open(subject, o.personal));
  const { personal: _sealed, ...rest } = o;
  return { ...rest, ...opened };
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');

/** The object without its undefined values (optional fields stay absent, as the decoders give them). */
function defined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) (out as Record<string, unknown>)[k] = v;
  return out;
}
