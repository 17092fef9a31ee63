import * as avro from 'avsc';
import type { RawNotification } from '@iks/domain';
import { backwardIncompatibility, loadSchema } from './schemas';
import { notificationFromAvro, notificationToAvro } from './serdes';

const record: RawNotification = {
  notification_id: 'notif_1',
  topic: 'contact.user.created',
  app_id: 'abc',
  created_at: 1_700_000_000,
  delivery_attempts: 1,
  first_sent_at: null,
  received_at: 1_700_000_000_000,
  source: 'webhook',
  body: '{"email":"ann@example.com"}',
};

describe('schemas/intercom-notification.avsc with body_sealed (docs/ERASURE.md)', () => {
  const { text, type } = loadSchema('intercom-notification.avsc');

  it('is BACKWARD compatible with the schema before it (a record of before reads: clear body, no body_sealed)', () => {
    const s = JSON.parse(text) as { fields: Array<{ name: string }> };
    const before = { ...s, fields: s.fields.filter((f) => f.name !== 'body_sealed') };
    expect(before.fields.length).toBe(s.fields.length - 1);
    expect(backwardIncompatibility(text, JSON.stringify(before))).toBeNull();
    const writer = avro.Type.forSchema(before as never, { logicalTypes: {} });
    const oldBytes = writer.toBuffer({ ...record, connection_id: 'default' });
    expect(notificationFromAvro(type.fromBuffer(oldBytes, type.createResolver(writer)))).toEqual(record);
  });

  it('writes a sealed record sealed (its clear body, of a reader that opened it, never) and reads it back as written', () => {
    const body_sealed = Buffer.from([1, 0, 1, 2, 3]);
    const opened: RawNotification = { ...record, body_sealed };
    const avro = notificationToAvro(opened);
    expect(avro.body).toBe('');
    const back = notificationFromAvro(type.fromBuffer(type.toBuffer(avro)));
    expect(back).toEqual({ ...record, body: '', body_sealed });
    expect(type.toBuffer(avro).includes(Buffer.from('ann@example.com'))).toBe(false);
    // a clear record stays as it was
    expect(notificationFromAvro(type.fromBuffer(type.toBuffer(notificationToAvro(record))))).toEqual(record);
  });
});
