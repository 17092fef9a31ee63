import {
  boundedKey,
  entityKey,
  isPing,
  MAX_KEY_CHARS,
  parseEnvelope,
  parseWebhook,
  validateEnvelope,
} from './intercom-envelope';

const base = {
  type: 'notification_event',
  id: 'notif_1',
  topic: 'conversation.user.created',
  app_id: 'abc',
  created_at: 1700000000,
  data: { type: 'notification_event_data', item: { type: 'conversation', id: '123' } },
};

describe('envelope validation', () => {
  it('accepts a complete envelope', () => {
    expect(validateEnvelope(base)).toEqual({ ok: true, envelope: base });
  });

  it('names what is missing', () => {
    const { id: _id, ...noId } = base;
    expect(validateEnvelope(noId)).toEqual({ ok: false, error: 'id is missing' });
    expect(validateEnvelope({ ...base, data: {} })).toEqual({ ok: false, error: 'data.item is missing' });
    expect(validateEnvelope({ ...base, type: 'x', created_at: 'yesterday' })).toEqual({
      ok: false,
      error: 'type must be "notification_event" (got "x"); created_at must be a unix timestamp',
    });
    expect(validateEnvelope([])).toEqual({ ok: false, error: 'body must be a JSON object' });
  });

  it('refuses numbers the Avro record cannot hold, naming the field (schemas/intercom-notification.avsc)', () => {
    expect(validateEnvelope({ ...base, created_at: 1e300 })).toEqual({
      ok: false,
      error: 'created_at must be a unix timestamp between 0 and 9007199254740991 (got 1e+300)',
    });
    expect(validateEnvelope({ ...base, first_sent_at: 1e300 })).toEqual({
      ok: false,
      error: 'first_sent_at must be null or a unix timestamp between 0 and 9007199254740991 (got 1e+300)',
    });
    expect(validateEnvelope({ ...base, delivery_attempts: 2 ** 31 })).toEqual({
      ok: false,
      error: 'delivery_attempts must be an integer between 0 and 2147483647 (got 2147483648)',
    });
    expect(validateEnvelope({ ...base, delivery_attempts: 1.5, first_sent_at: 'soon' })).toEqual({
      ok: false,
      error:
        'delivery_attempts must be an integer between 0 and 2147483647 (got 1.5); first_sent_at must be null or a unix timestamp between 0 and 9007199254740991 (got "soon")',
    });
    const edge = { ...base, created_at: 2 ** 53 - 1, first_sent_at: null, delivery_attempts: 2 ** 31 - 1 };
    expect(validateEnvelope(edge)).toEqual({ ok: true, envelope: edge });
    expect(validateEnvelope({ ...base, created_at: 1700000000.9, first_sent_at: 1700000001 }).ok).toBe(true);
  });

  it('reports malformed JSON', () => {
    const r = parseEnvelope(Buffer.from('{"type":'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^body is not valid JSON/);
  });
});

describe('entityKey (one partition per conversation, ticket or contact)', () => {
  it('keys by the item', () => {
    expect(entityKey(base)).toBe('conversation:123');
    expect(entityKey({ ...base, topic: 'ticket.created', data: { item: { type: 'ticket', id: 55 } } })).toBe(
      'ticket:55',
    );
    expect(entityKey({ ...base, topic: 'contact.user.created', data: { item: { type: 'contact', id: 'c1' } } })).toBe(
      'contact:c1',
    );
  });

  it('keys contact tag notifications by their contact', () => {
    const tag = { type: 'contact_tag', tag: { type: 'tag', id: '9' }, contact: { type: 'contact', id: 'c1' } };
    expect(entityKey({ ...base, topic: 'contact.user.tag.created', data: { item: tag } })).toBe('contact:c1');
  });

  it('falls back to the notification id', () => {
    expect(entityKey({ ...base, data: { item: {} } })).toBe('notification:notif_1');
  });

  it('takes only a string or number as an id: a deeply nested one falls back to the notification id', () => {
    const deep = JSON.parse(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`);
    expect(entityKey({ ...base, data: { item: { type: 'conversation', id: deep } } })).toBe('notification:notif_1');
    expect(
      entityKey({
        ...base,
        topic: 'contact.user.tag.created',
        data: { item: { type: 'contact_tag', id: 't1', contact: { id: { a: 1 } } } },
      }),
    ).toBe('contact_tag:t1');
  });

  it('bounds a key made of a huge body string: its SHA-256, the same for the same entity', () => {
    const huge = (id: string) => ({ ...base, data: { item: { type: 'x'.repeat(208_550), id } } });
    expect(entityKey(huge('1'))).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(entityKey(huge('1'))).toBe(entityKey(huge('1')));
    expect(entityKey(huge('2'))).not.toBe(entityKey(huge('1')));
    expect(
      entityKey({ ...base, data: { item: { type: 'conversation', id: '9'.repeat(300) } } }).length,
    ).toBeLessThanOrEqual(MAX_KEY_CHARS);
  });
});

describe('boundedKey (the transformer keys its outputs with it too)', () => {
  it('keeps a key up to MAX_KEY_CHARS and hashes a longer one, the same way every time', () => {
    expect(boundedKey('6762f0d0bbbb000000000001')).toBe('6762f0d0bbbb000000000001');
    const long = 'c'.repeat(200_000);
    expect(boundedKey(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(boundedKey(long)).toBe(boundedKey('c'.repeat(200_000)));
    expect(boundedKey('c'.repeat(MAX_KEY_CHARS))).toHaveLength(MAX_KEY_CHARS);
  });
});

describe("parseWebhook: Intercom's ping before the envelope rules (issue #19)", () => {
  const ping =
    '{"type":"notification_event","app_id":"ab12cd34","data":{"type":"notification_event_data","item":{"type":"ping","message":"something something interzen"}},' +
    '"links":{},"id":null,"topic":"ping","delivery_status":null,"delivery_attempts":1,"delivered_at":0,"first_sent_at":1449238939,"created_at":1449238939,"self":null}';

  it('takes the documented ping (id null) as a ping, which validateEnvelope alone refuses', () => {
    expect(parseWebhook(Buffer.from(ping))).toEqual({ ok: true, kind: 'ping', ping: JSON.parse(ping) });
    expect(validateEnvelope(JSON.parse(ping))).toEqual({ ok: false, error: 'id is missing' });
  });

  it('a ping is a notification_event of topic ping, nothing else is looked at', () => {
    expect(isPing({ type: 'notification_event', topic: 'ping' })).toBe(true);
    expect(isPing({ type: 'notification', topic: 'ping' })).toBe(false);
    expect(isPing([{ type: 'notification_event', topic: 'ping' }])).toBe(false);
    expect(isPing(null)).toBe(false);
  });

  it('keeps the envelope rules for everything else', () => {
    expect(parseWebhook(Buffer.from(JSON.stringify(base)))).toEqual({ ok: true, kind: 'notification', envelope: base });
    expect(parseWebhook(Buffer.from(ping.replace('"topic":"ping"', '"topic":"conversation.user.created"')))).toEqual({
      ok: false,
      error: 'id is missing',
    });
    expect(parseWebhook(Buffer.from(ping.replace('"type":"notification_event"', '"type":"x"')))).toMatchObject({
      ok: false,
    });
    expect(parseWebhook(Buffer.from('{"type":'))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^body is not valid JSON/),
    });
  });
});
