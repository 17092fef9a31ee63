import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contactIdsIn, entityKey, parseWebhookText, validateEnvelope } from '@iks/domain';
import { buildNotification, generateDataset } from '../../../../tools/intercom-emulator/src';
import { MAX_DEPTH, scanEnvelope, type ScannedEnvelope } from './envelope-scan';
import { readBody } from './webhook-body';

/** What the scan must give for a body, derived from JSON.parse's tree (null: not the common shape). */
function fromTree(text: string): ScannedEnvelope | null {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return null;
  const b = o as Record<string, unknown>;
  const isNum = (v: unknown) => typeof v === 'number';
  if (typeof b.type !== 'string' || typeof b.id !== 'string' || typeof b.topic !== 'string') return null;
  if (typeof b.app_id !== 'string' || !isNum(b.created_at)) return null;
  if ('delivery_attempts' in b && !isNum(b.delivery_attempts) && b.delivery_attempts !== null) return null;
  if ('first_sent_at' in b && !isNum(b.first_sent_at) && b.first_sent_at !== null) return null;
  const data = b.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const item = (data as { item?: unknown }).item;
  if (!item || typeof item !== 'object' || Array.isArray(item)) return null;
  const it = item as Record<string, unknown>;
  const idOf = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? v : undefined);
  const contactIsObject = typeof it.contact === 'object' && it.contact !== null;
  return {
    type: b.type,
    id: b.id,
    topic: b.topic,
    app_id: b.app_id,
    created_at: b.created_at as number,
    delivery_attempts: b.delivery_attempts as number | null | undefined,
    first_sent_at: b.first_sent_at as number | null | undefined,
    itemType: typeof it.type === 'string' ? it.type : undefined,
    itemId: idOf(it.id),
    contactIsObject,
    contactId:
      contactIsObject && !Array.isArray(it.contact) ? idOf((it.contact as Record<string, unknown>).id) : undefined,
    subjects: contactIdsIn(o).sort(),
  };
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const json = JSON.stringify({
  type: 'notification_event',
  id: 'notif_1',
  topic: 'conversation.user.created',
  app_id: 'abc',
  created_at: 1700000000,
  delivery_attempts: 1,
  first_sent_at: 1700000000,
  data: { type: 'notification_event_data', item: { type: 'conversation', id: '42' } },
});

/** Real-shaped webhooks of every kind the emulator builds. */
function corpus(): Buffer[] {
  const data = generateDataset({ seed: 11, contacts: 12, conversations: 12, tickets: 12 });
  const out: Buffer[] = [];
  const add = (topic: string, item: unknown, i: number) =>
    out.push(
      Buffer.from(
        JSON.stringify(
          buildNotification(topic, item, { id: `notif_${i}`, appId: data.appId, createdAt: 1768912442 + i }),
        ),
      ),
    );
  data.conversations.forEach((c, i) => add('conversation.user.replied', c, i));
  data.tickets.forEach((t, i) => add('ticket.state.updated', t, 100 + i));
  data.contacts.forEach((c, i) => add('contact.user.updated', c, 200 + i));
  data.contacts.forEach((c, i) =>
    add(
      'contact.user.tag.created',
      { type: 'contact_tag', id: `ct_${i}`, contact: { type: 'contact', id: c.id } },
      300 + i,
    ),
  );
  return out;
}

/** A small deterministic generator (mulberry32): the same cases on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// bytes that matter to JSON's grammar, and some that do not belong outside strings
const SIGNIFICANT = Buffer.from('{}[]":,\\/ \t\n\r0123456789+-.eEtrufalsn\x00\x01\x1f\x7f\u00e9');
const HIGH = [0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xff];

function mutate(b: Buffer, r: () => number): Buffer {
  const pos = Math.floor(r() * b.length);
  const byte = r() < 0.85 ? SIGNIFICANT[Math.floor(r() * SIGNIFICANT.length)] : HIGH[Math.floor(r() * HIGH.length)];
  switch (Math.floor(r() * 4)) {
    case 0:
      return Buffer.concat([b.subarray(0, pos), Buffer.from([byte]), b.subarray(pos + 1)]);
    case 1:
      return Buffer.concat([b.subarray(0, pos), Buffer.from([byte]), b.subarray(pos)]);
    case 2:
      return Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1)]);
    default:
      return b.subarray(0, pos);
  }
}

describe('scanEnvelope: the fast path of the body check, against JSON.parse', () => {
  const bodies = corpus();

  it('reads every real-shaped webhook exactly as JSON.parse does', () => {
    expect(bodies.length).toBeGreaterThan(40);
    for (const b of bodies) {
      const scanned = scanEnvelope(b);
      expect(scanned).not.toBeNull();
      expect(scanned).toEqual(fromTree(b.toString('utf8')));
    }
  });

  it('accepts no mutated body that JSON.parse refuses, and reads the ones it accepts as JSON.parse does', () => {
    const r = rng(20);
    let accepted = 0;
    let refusedByBoth = 0;
    for (let n = 0; n < 6000; n++) {
      let m = bodies[n % bodies.length];
      const edits = 1 + Math.floor(r() * 3);
      for (let k = 0; k < edits; k++) m = mutate(m, r);
      const text = m.toString('utf8');
      const scanned = scanEnvelope(m);
      if (scanned === null) {
        if (!parses(text)) refusedByBoth++;
        continue;
      }
      accepted++;
      expect({ text, ok: parses(text) }).toEqual({ text, ok: true });
      expect(scanned).toEqual(fromTree(text));
    }
    // the mutations must exercise both sides (a mutation inside a string keeps the body valid)
    expect(accepted).toBeGreaterThan(500);
    expect(refusedByBoth).toBeGreaterThan(1000);
  });

  const base = {
    type: 'notification_event',
    id: 'notif_1',
    topic: 'conversation.user.created',
    app_id: 'abc',
    created_at: 1700000000,
    delivery_attempts: 1,
    first_sent_at: 1700000000,
    data: { type: 'notification_event_data', item: { type: 'conversation', id: '42' } },
  };
  const json = JSON.stringify(base);

  it.each([
    ['duplicate keys: the last wins', json.replace('"id":"notif_1"', '"id":"first","id":"notif_1"')],
    ['duplicate data: the last whole', json.replace('"data":', '"data":{"item":{"id":"x"}},"data":')],
    ['escapes in values', json.replace('"notif_1"', '"notif\\u005f\\"1\\n\\ud800"')],
    [
      'numbers of every form',
      json
        .replace('1700000000,"delivery', '1.7e9,"delivery')
        .replace('"delivery_attempts":1', '"delivery_attempts":-0'),
    ],
    ['an exponent with a sign', json.replace('"first_sent_at":1700000000', '"first_sent_at":17E+8')],
    [
      'null delivery_attempts and first_sent_at',
      json
        .replace('"delivery_attempts":1', '"delivery_attempts":null')
        .replace('"first_sent_at":1700000000', '"first_sent_at":null'),
    ],
    ['whitespace everywhere JSON allows it', JSON.stringify(base, null, '\t').replace(/\n/g, '\r\n')],
    ['raw UTF-8 inside strings', json.replace('"abc"', '"é€😀"')],
    [
      'a contact item by its contact',
      json.replace(
        '"item":{"type":"conversation","id":"42"}',
        '"item":{"type":"contact_tag","id":7,"contact":{"id":"c1","id":99}}',
      ),
    ],
    ['a contact that is an array', json.replace('"id":"42"}', '"id":"42","contact":[{"id":"c1"}]}')],
    ['an item id that is an object', json.replace('"id":"42"', '"id":{"id":"42"}')],
  ])('%s', (_name, text) => {
    expect(parses(text)).toBe(true);
    const scanned = scanEnvelope(Buffer.from(text));
    expect(scanned).not.toBeNull();
    expect(scanned).toEqual(fromTree(text));
  });

  it.each([
    ['not JSON', '{"type":'],
    ['trailing garbage', `${json}x`],
    ['a trailing comma', json.replace(/}}}$/, '},}}')],
    ['a leading zero', json.replace('"delivery_attempts":1', '"delivery_attempts":01')],
    ['a bare fraction point', json.replace('"delivery_attempts":1', '"delivery_attempts":1.')],
    ['a raw control character in a string', json.replace('notif_1', 'notif\t1')],
    ['an unknown escape', json.replace('notif_1', 'notif\\x1')],
    ['a short \\u escape', json.replace('notif_1', 'notif\\u12')],
    ['a byte order mark', `\ufeff${json}`],
    ['an unterminated string', json.slice(0, json.indexOf('notif_1') + 3)],
    ['single quotes', json.replace('"notif_1"', "'notif_1'")],
    ['True', json.replace('"delivery_attempts":1', '"delivery_attempts":True')],
  ])('refuses %s (JSON.parse does too)', (_name, text) => {
    expect(parses(text)).toBe(false);
    expect(scanEnvelope(Buffer.from(text))).toBeNull();
  });

  it.each([
    ['a top-level array', `[${json}]`],
    ['an escaped key that spells a field', json.replace('"topic"', '"\\u0074opic"')],
    ['an escaped key in the item', json.replace('"id":"42"', '"\\u0069d":"42"')],
    ['a string delivery_attempts', json.replace('"delivery_attempts":1', '"delivery_attempts":"1"')],
    ['data.item an array', json.replace('"item":{"type":"conversation","id":"42"}', '"item":[]')],
    ['a ping', json.replace('"conversation.user.created"', '"ping"')],
    [
      'nesting deeper than MAX_DEPTH',
      json.replace('"id":"42"', `"id":"42","deep":${'['.repeat(MAX_DEPTH + 5)}${']'.repeat(MAX_DEPTH + 5)}`),
    ],
  ])('leaves %s to the slow path (valid JSON, not the common shape)', (_name, text) => {
    expect(parses(text)).toBe(true);
    const scanned = scanEnvelope(Buffer.from(text));
    if (_name === 'a ping') {
      // a ping's shape is common; readWebhook sends it to the slow path by its topic
      expect(scanned?.topic).toBe('ping');
      expect(readBody(Buffer.from(text), text)).toEqual({ ok: false, body: JSON.parse(text), notJson: null });
      return;
    }
    expect(scanned).toBeNull();
  });
});

describe('scanEnvelope: the subjects a body names, in the same pass (libs/domain contactIdsIn)', () => {
  const dir = join(__dirname, '..', '..', '..', '..', 'libs', 'mapping', 'fixtures', 'notifications');

  it('finds in every Intercom-shaped fixture (pretty-printed and compact) what contactIdsIn finds', () => {
    let named = 0;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      const expected = contactIdsIn(JSON.parse(text)).sort();
      if (expected.length > 0) named++;
      for (const b of [Buffer.from(text), Buffer.from(JSON.stringify(JSON.parse(text)))]) {
        const scanned = scanEnvelope(b);
        expect({ f, subjects: scanned?.subjects }).toEqual({ f, subjects: expected });
      }
    }
    expect(named).toBe(21);
  });

  it.each([
    [
      'contacts, users and leads at any depth, each once',
      '{"contacts":[{"type":"contact","id":"c1"},{"type":"lead","id":"l1"}],"parts":[{"author":{"id":"c1","type":"user"}},{"author":{"type":"admin","id":"a1"}}]}',
      ['c1', 'l1'],
    ],
    ['a number id', '{"author":{"type":"user","id":1e3}}', ['1000']],
    [
      'the last of duplicate type keys',
      '{"a":{"type":"admin","id":"x","type":"user"},"b":{"type":"user","id":"y","type":"admin"}}',
      ['x'],
    ],
    ['the last of duplicate id keys', '{"a":{"type":"user","id":"x","id":"y"}}', ['y']],
    ['escapes in the type, the id and an inner key', '{"a":{"\\u0074ype":"\\u0075ser","\\u0069d":"c\\u00e9"}}', ['cé']],
    [
      'no id, a null id, an object id',
      '{"a":{"type":"contact"},"b":{"type":"user","id":null},"c":{"type":"lead","id":{"id":"z"}}}',
      [],
    ],
  ])('%s', (_name, item, expected) => {
    const text = json.replace(
      '"item":{"type":"conversation","id":"42"}',
      `"item":{"type":"conversation","id":"42","x":${item}}`,
    );
    expect(parses(text)).toBe(true);
    expect(contactIdsIn(JSON.parse(text)).sort()).toEqual(expected);
    expect(scanEnvelope(Buffer.from(text))?.subjects).toEqual(expected);
  });
});

describe('readBody: the fast and the slow path give the same envelope', () => {
  it('for real-shaped webhooks and mutated ones', () => {
    const r = rng(7);
    const bodies = corpus();
    let compared = 0;
    for (let n = 0; n < 2000; n++) {
      const b = n < bodies.length ? bodies[n] : mutate(bodies[n % bodies.length], r);
      const text = b.toString('utf8');
      const slow = parseWebhookText(text);
      const got = readBody(b, text);
      if (!got.ok) {
        // the slow path: what JSON.parse gives, or its error
        if (got.notJson !== null) expect(slow).toEqual({ ok: false, error: got.notJson });
        else expect(got.body).toEqual(JSON.parse(text));
        continue;
      }
      // the fast path only for a valid, non-ping envelope, with what the controller reads from it
      expect(slow.ok && slow.kind === 'notification').toBe(true);
      if (!slow.ok || slow.kind !== 'notification') continue;
      compared++;
      const env = slow.envelope;
      expect(validateEnvelope(got.envelope).ok).toBe(true);
      expect(entityKey(got.envelope)).toBe(entityKey(env));
      for (const k of ['type', 'id', 'topic', 'app_id', 'created_at', 'delivery_attempts', 'first_sent_at'] as const)
        expect({ k, v: got.envelope[k] }).toEqual({ k, v: env[k] });
    }
    expect(compared).toBeGreaterThan(300);
  });
});
