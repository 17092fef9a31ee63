import { PERSON_TYPES } from '@iks/domain';

/**
 * The fast path of ingest's body check: one pass over the body's bytes that checks the whole
 * body is JSON (RFC 8259) and picks out what ingest needs from it (the envelope's fields, the
 * item's type and id, its contact's id), without building the tree JSON.parse builds (20 µs and
 * several times the body in garbage for a 5 KB webhook; the transformer parses the body anyway).
 *
 * It answers only for the common shape: a valid JSON object whose envelope fields have the
 * types Intercom sends (strings, numbers, null where allowed) and whose data.item is an object.
 * For anything else (not JSON, another shape, a ping, an escape in a key on the path, nesting
 * deeper than MAX_DEPTH) it answers null and the caller takes the slow path (JSON.parse and
 * validateEnvelope), which decides and words the error: so it must never accept a body
 * JSON.parse refuses, and never read a field otherwise than JSON.parse would (the last of
 * duplicate keys wins; escapes decoded). envelope-scan.spec.ts checks both against JSON.parse
 * on generated and mutated bodies.
 *
 * Bytes, not a string: the body is UTF-8. Raw bytes >= 0x80 are only allowed inside strings,
 * where JSON.parse of the decoded text accepts any character (an invalid sequence decodes to
 * U+FFFD); outside strings they are an error both ways.
 */

/** What the scan reads from a body of the common shape. Values are what JSON.parse would give. */
export interface ScannedEnvelope {
  type: string;
  id: string;
  topic: string;
  app_id: string;
  created_at: number;
  /** Absent or null: undefined / null, as in the parsed object. */
  delivery_attempts: number | null | undefined;
  first_sent_at: number | null | undefined;
  /** data.item.type when it is a string. */
  itemType: string | undefined;
  /** data.item.id when it is a string or a number. */
  itemId: string | number | undefined;
  /** Whether data.item.contact is an object or an array (typeof 'object', not null). */
  contactIsObject: boolean;
  /** data.item.contact.id when contact is an object and its id a string or a number. */
  contactId: string | number | undefined;
  /**
   * The contact ids the body names (libs/domain intercom-subjects.ts: every object, at any depth,
   * whose `type` is contact, user or lead and whose `id` a string or a number), each once, sorted:
   * the subjects its sealed body is shared between (docs/ERASURE.md). Found in the same pass.
   */
  subjects: string[];
}

export const MAX_DEPTH = 128;

const QUOTE = 0x22;
/** 1 for a byte that may stand for itself inside a string (not `"`, `\\`, or below 0x20). */
const PLAIN = new Uint8Array(256).fill(1);
PLAIN.fill(0, 0, 0x20);
PLAIN[0x22] = 0;
PLAIN[0x5c] = 0;
const BACKSLASH = 0x5c;

/** Which object the scan is in, for the fields it keeps. */
const enum At {
  None = 0,
  Top = 1,
  Data = 2,
  Item = 3,
  Contact = 4,
}

/** Kinds of a value, as far as the captured fields care. */
const enum Kind {
  Other = 0,
  String = 1,
  Number = 2,
  Null = 3,
  Object = 4,
  Array = 5,
  Bool = 6,
}

class Bail extends Error {}
const BAIL = new Bail();

/** Fails the scan: the slow path decides. */
function bail(): never {
  throw BAIL;
}

class Scanner {
  private i = 0;
  // the last scalar value's position (a string's content without quotes, or a number's text)
  private valStart = 0;
  private valEnd = 0;
  private valEscaped = false;

  // captured top-level fields: kind and position of each
  readonly top = {
    typeKind: Kind.Other,
    typeS: 0,
    typeE: 0,
    typeEsc: false,
    idKind: Kind.Other,
    idS: 0,
    idE: 0,
    idEsc: false,
    topicKind: Kind.Other,
    topicS: 0,
    topicE: 0,
    topicEsc: false,
    appKind: Kind.Other,
    appS: 0,
    appE: 0,
    appEsc: false,
    createdKind: Kind.Other,
    createdS: 0,
    createdE: 0,
    attemptsKind: Kind.Other, // Other here means absent until seen
    attemptsSeen: false,
    attemptsS: 0,
    attemptsE: 0,
    firstSentSeen: false,
    firstSentKind: Kind.Other,
    firstSentS: 0,
    firstSentE: 0,
    dataKind: Kind.Other,
    itemKind: Kind.Other,
    itemTypeKind: Kind.Other,
    itemTypeS: 0,
    itemTypeE: 0,
    itemTypeEsc: false,
    itemIdKind: Kind.Other,
    itemIdS: 0,
    itemIdE: 0,
    itemIdEsc: false,
    contactKind: Kind.Other,
    contactIdKind: Kind.Other,
    contactIdS: 0,
    contactIdE: 0,
    contactIdEsc: false,
  };

  /** Contact ids of the person objects met so far (see ScannedEnvelope.subjects). */
  readonly subjects: string[] = [];

  constructor(private readonly b: Buffer) {}

  run(): void {
    this.ws();
    if (this.b[this.i] !== 0x7b) bail(); // the body must be an object for the fast path
    this.value(At.Top, 0);
    this.ws();
    if (this.i !== this.b.length) bail();
  }

  private ws(): void {
    const b = this.b;
    let i = this.i;
    for (;;) {
      const c = b[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  /** One value; `at` is the object it opens when it is one (At.None: nothing kept inside). */
  private value(at: At, depth: number): Kind {
    const b = this.b;
    const c = b[this.i];
    if (c === QUOTE) {
      this.string();
      return Kind.String;
    }
    if (c === 0x7b) {
      this.object(at, depth + 1);
      return Kind.Object;
    }
    if (c === 0x5b) {
      this.array(depth + 1);
      return Kind.Array;
    }
    if (c === 0x74) return this.literal(0x74, 0x72, 0x75, 0x65, Kind.Bool); // true
    if (c === 0x66) {
      // false
      if (b[this.i + 1] === 0x61 && b[this.i + 2] === 0x6c && b[this.i + 3] === 0x73 && b[this.i + 4] === 0x65) {
        this.i += 5;
        return Kind.Bool;
      }
      bail();
    }
    if (c === 0x6e) return this.literal(0x6e, 0x75, 0x6c, 0x6c, Kind.Null); // null
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.number();
      return Kind.Number;
    }
    bail();
  }

  private literal(c0: number, c1: number, c2: number, c3: number, kind: Kind): Kind {
    const b = this.b;
    const i = this.i;
    if (b[i] === c0 && b[i + 1] === c1 && b[i + 2] === c2 && b[i + 3] === c3) {
      this.i = i + 4;
      return kind;
    }
    bail();
  }

  /** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
  private number(): void {
    const b = this.b;
    let i = this.i;
    const start = i;
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) {
      i++;
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    } else bail();
    if (b[i] === 0x2e) {
      i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) bail();
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) bail();
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    this.valStart = start;
    this.valEnd = i;
    this.valEscaped = false;
    this.i = i;
  }

  /** A string at this.i (its opening quote); valStart..valEnd its content between the quotes. */
  private string(): void {
    const b = this.b;
    let i = this.i + 1;
    const start = i;
    let escaped = false;
    for (;;) {
      // the plain run: any byte but a quote, a backslash or a control character
      while (PLAIN[b[i]] === 1) i++;
      const c = b[i];
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        const e = b[i + 1];
        if (e === 0x75) {
          // \uXXXX: four hex digits (any code unit, lone surrogates included, as JSON.parse takes them)
          if (!(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5]))) bail();
          i += 6;
        } else if (
          e === QUOTE ||
          e === BACKSLASH ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          i += 2;
        } else bail();
        continue;
      }
      // control characters must be escaped; undefined (past the end) is an unterminated string
      if (c === undefined || c < 0x20) bail();
      i++;
    }
    this.valStart = start;
    this.valEnd = i;
    this.valEscaped = escaped;
    this.i = i + 1;
  }

  private array(depth: number): void {
    if (depth > MAX_DEPTH) bail();
    const b = this.b;
    this.i++; // [
    this.ws();
    if (b[this.i] === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      this.value(At.None, depth);
      this.ws();
      const c = b[this.i];
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x5d) {
        this.i++;
        return;
      }
      bail();
    }
  }

  private object(at: At, depth: number): void {
    if (depth > MAX_DEPTH) bail();
    const b = this.b;
    const t = this.top;
    this.i++; // {
    this.ws();
    if (b[this.i] === 0x7d) {
      this.i++;
      return;
    }
    // this object as a person (intercom-subjects.ts): its type one of PERSON_TYPES, its id (the last of each wins)
    let person = false;
    let idKind = Kind.Other;
    let idS = 0;
    let idE = 0;
    let idEsc = false;
    for (;;) {
      this.ws();
      if (b[this.i] !== QUOTE) bail();
      this.string();
      const keyS = this.valStart;
      const keyE = this.valEnd;
      const keyEscaped = this.valEscaped;
      this.ws();
      if (b[this.i] !== 0x3a) bail();
      this.i++;
      this.ws();
      // which field this key is, if it is one that is kept; an escaped key in an object whose
      // fields are kept could spell one ("\u0069d" is "id"): the slow path reads it
      if (keyEscaped && at !== At.None) bail();
      const field = at === At.None ? Field.None : fieldOf(b, at, keyS, keyE);
      const personKey = personKeyOf(b, keyS, keyE, keyEscaped);
      let kind: Kind;
      switch (field) {
        case Field.None:
          kind = this.value(At.None, depth);
          break;
        case Field.Data: {
          // a later "data" replaces an earlier one whole, as in JSON.parse
          t.itemKind = Kind.Other;
          resetItem(t);
          kind = t.dataKind = this.value(At.Data, depth);
          break;
        }
        case Field.Item: {
          resetItem(t);
          kind = t.itemKind = this.value(At.Item, depth);
          break;
        }
        case Field.Contact: {
          t.contactIdKind = Kind.Other;
          kind = t.contactKind = this.value(At.Contact, depth);
          break;
        }
        default: {
          kind = this.value(At.None, depth);
          this.keep(field, kind);
        }
      }
      if (personKey === PersonKey.Type)
        person = kind === Kind.String && isPersonType(b, this.valStart, this.valEnd, this.valEscaped);
      else if (personKey === PersonKey.Id) {
        idKind = kind;
        idS = this.valStart;
        idE = this.valEnd;
        idEsc = this.valEscaped;
      }
      this.ws();
      const c = b[this.i];
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x7d) {
        this.i++;
        if (person && (idKind === Kind.String || idKind === Kind.Number))
          this.subjects.push(idKind === Kind.String ? str(b, idS, idE, idEsc) : String(num(b, idS, idE)));
        return;
      }
      bail();
    }
  }

  private keep(field: Field, kind: Kind): void {
    const t = this.top;
    const s = this.valStart;
    const e = this.valEnd;
    const esc = this.valEscaped;
    switch (field) {
      case Field.Type:
        t.typeKind = kind;
        t.typeS = s;
        t.typeE = e;
        t.typeEsc = esc;
        break;
      case Field.Id:
        t.idKind = kind;
        t.idS = s;
        t.idE = e;
        t.idEsc = esc;
        break;
      case Field.Topic:
        t.topicKind = kind;
        t.topicS = s;
        t.topicE = e;
        t.topicEsc = esc;
        break;
      case Field.AppId:
        t.appKind = kind;
        t.appS = s;
        t.appE = e;
        t.appEsc = esc;
        break;
      case Field.CreatedAt:
        t.createdKind = kind;
        t.createdS = s;
        t.createdE = e;
        break;
      case Field.DeliveryAttempts:
        t.attemptsSeen = true;
        t.attemptsKind = kind;
        t.attemptsS = s;
        t.attemptsE = e;
        break;
      case Field.FirstSentAt:
        t.firstSentSeen = true;
        t.firstSentKind = kind;
        t.firstSentS = s;
        t.firstSentE = e;
        break;
      case Field.ItemType:
        t.itemTypeKind = kind;
        t.itemTypeS = s;
        t.itemTypeE = e;
        t.itemTypeEsc = esc;
        break;
      case Field.ItemId:
        t.itemIdKind = kind;
        t.itemIdS = s;
        t.itemIdE = e;
        t.itemIdEsc = esc;
        break;
      case Field.ContactId:
        t.contactIdKind = kind;
        t.contactIdS = s;
        t.contactIdE = e;
        t.contactIdEsc = esc;
        break;
    }
  }
}

function resetItem(t: Scanner['top']): void {
  t.itemTypeKind = Kind.Other;
  t.itemIdKind = Kind.Other;
  t.contactKind = Kind.Other;
  t.contactIdKind = Kind.Other;
}

const enum Field {
  None,
  Type,
  Id,
  Topic,
  AppId,
  CreatedAt,
  DeliveryAttempts,
  FirstSentAt,
  Data,
  Item,
  ItemType,
  ItemId,
  Contact,
  ContactId,
}

const KEYS: Record<number, ReadonlyArray<readonly [Buffer, Field]>> = {
  [At.Top]: [
    [Buffer.from('type'), Field.Type],
    [Buffer.from('id'), Field.Id],
    [Buffer.from('topic'), Field.Topic],
    [Buffer.from('app_id'), Field.AppId],
    [Buffer.from('created_at'), Field.CreatedAt],
    [Buffer.from('delivery_attempts'), Field.DeliveryAttempts],
    [Buffer.from('first_sent_at'), Field.FirstSentAt],
    [Buffer.from('data'), Field.Data],
  ],
  [At.Data]: [[Buffer.from('item'), Field.Item]],
  [At.Item]: [
    [Buffer.from('type'), Field.ItemType],
    [Buffer.from('id'), Field.ItemId],
    [Buffer.from('contact'), Field.Contact],
  ],
  [At.Contact]: [[Buffer.from('id'), Field.ContactId]],
};

function fieldOf(b: Buffer, at: At, s: number, e: number): Field {
  const len = e - s;
  for (const [name, field] of KEYS[at]) {
    if (name.length !== len) continue;
    let same = true;
    for (let k = 0; k < len; k++) {
      if (b[s + k] !== name[k]) {
        same = false;
        break;
      }
    }
    if (same) return field;
  }
  return Field.None;
}

const enum PersonKey {
  None,
  Type,
  Id,
}

/** Whether the key at s..e is "type" or "id" (an escaped one decoded first). */
function personKeyOf(b: Buffer, s: number, e: number, escaped: boolean): PersonKey {
  if (escaped) {
    const k = str(b, s, e, true);
    return k === 'type' ? PersonKey.Type : k === 'id' ? PersonKey.Id : PersonKey.None;
  }
  const len = e - s;
  if (len === 2) return b[s] === 0x69 && b[s + 1] === 0x64 ? PersonKey.Id : PersonKey.None;
  if (len === 4)
    return b[s] === 0x74 && b[s + 1] === 0x79 && b[s + 2] === 0x70 && b[s + 3] === 0x65
      ? PersonKey.Type
      : PersonKey.None;
  return PersonKey.None;
}

const PERSON_TYPE_BYTES = [...PERSON_TYPES].map((t) => Buffer.from(t));

/** Whether the string value at s..e is one of PERSON_TYPES. */
function isPersonType(b: Buffer, s: number, e: number, escaped: boolean): boolean {
  if (escaped) return PERSON_TYPES.has(str(b, s, e, true));
  const len = e - s;
  for (const t of PERSON_TYPE_BYTES) {
    if (t.length !== len) continue;
    let same = true;
    for (let k = 0; k < len; k++) {
      if (b[s + k] !== t[k]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

function str(b: Buffer, s: number, e: number, escaped: boolean): string {
  // an escaped string is decoded by JSON.parse itself (with its quotes: the bytes s-1 and e are `"`)
  return escaped ? (JSON.parse(b.toString('utf8', s - 1, e + 1)) as string) : b.toString('utf8', s, e);
}

function num(b: Buffer, s: number, e: number): number {
  return Number(b.toString('latin1', s, e));
}

/**
 * The envelope's fields of a body of the common shape (see the module), or null: then the
 * caller parses the body with JSON.parse and validates what it finds.
 */
export function scanEnvelope(body: Buffer): ScannedEnvelope | null {
  const s = new Scanner(body);
  try {
    s.run();
  } catch (e) {
    if (e === BAIL) return null;
    throw e;
  }
  const t = s.top;
  if (
    t.typeKind !== Kind.String ||
    t.idKind !== Kind.String ||
    t.topicKind !== Kind.String ||
    t.appKind !== Kind.String ||
    t.createdKind !== Kind.Number ||
    t.dataKind !== Kind.Object ||
    t.itemKind !== Kind.Object ||
    (t.attemptsSeen && t.attemptsKind !== Kind.Number && t.attemptsKind !== Kind.Null) ||
    (t.firstSentSeen && t.firstSentKind !== Kind.Number && t.firstSentKind !== Kind.Null)
  )
    return null;
  const contactIsObject = t.contactKind === Kind.Object || t.contactKind === Kind.Array;
  const idValue = (kind: Kind, st: number, en: number, esc: boolean): string | number | undefined =>
    kind === Kind.String ? str(body, st, en, esc) : kind === Kind.Number ? num(body, st, en) : undefined;
  return {
    type: str(body, t.typeS, t.typeE, t.typeEsc),
    id: str(body, t.idS, t.idE, t.idEsc),
    topic: str(body, t.topicS, t.topicE, t.topicEsc),
    app_id: str(body, t.appS, t.appE, t.appEsc),
    created_at: num(body, t.createdS, t.createdE),
    delivery_attempts: !t.attemptsSeen
      ? undefined
      : t.attemptsKind === Kind.Null
        ? null
        : num(body, t.attemptsS, t.attemptsE),
    first_sent_at: !t.firstSentSeen
      ? undefined
      : t.firstSentKind === Kind.Null
        ? null
        : num(body, t.firstSentS, t.firstSentE),
    itemType: t.itemTypeKind === Kind.String ? str(body, t.itemTypeS, t.itemTypeE, t.itemTypeEsc) : undefined,
    itemId: idValue(t.itemIdKind, t.itemIdS, t.itemIdE, t.itemIdEsc),
    contactIsObject,
    contactId:
      t.contactKind === Kind.Object ? idValue(t.contactIdKind, t.contactIdS, t.contactIdE, t.contactIdEsc) : undefined,
    subjects: s.subjects.length < 2 ? s.subjects : [...new Set(s.subjects)].sort(),
  };
}
