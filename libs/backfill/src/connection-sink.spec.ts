import type { RawNotification } from '@iks/domain';
import { CheckpointStore } from './backfill-checkpoint';
import type { BackfillRecord } from './backfill.types';
import { connectionSink, taggedRecord } from './connection-sink';

const notification = { notification_id: 'n1', topic: 'conversation.user.created', app_id: 'ws' } as RawNotification;

describe("connectionSink: records written as the ingest writes a connection's webhooks", () => {
  it("another connection's: connection_id set, key `<id>/<key>`; the default's unchanged", async () => {
    const written: BackfillRecord[] = [];
    const inner = { write: async (rs: readonly BackfillRecord[]) => void written.push(...rs) };
    await connectionSink(inner, 'acme').write([{ key: 'conversation:1', notification }]);
    expect(written).toEqual([{ key: 'acme/conversation:1', notification: { ...notification, connection_id: 'acme' } }]);
    expect(connectionSink(inner, 'default')).toBe(inner);
    expect(taggedRecord({ key: 'k', notification: { ...notification, connection_id: 'default' } }, 'default')).toEqual({
      key: 'k',
      notification,
    });
  });

  it("a connection's checkpoint is its own; the default connection's keeps its name", () => {
    const id = { since: 1, until: 2, topic: 't', baseUrl: 'http://h' };
    const plain = new CheckpointStore('/tmp/x', id).path;
    expect(new CheckpointStore('/tmp/x', { ...id, connectionId: 'default' }).path).toBe(plain);
    expect(new CheckpointStore('/tmp/x', { ...id, connectionId: 'acme' }).path).not.toBe(plain);
    expect(new CheckpointStore('/tmp/x', { ...id, connectionId: 'acme' }).path).not.toBe(
      new CheckpointStore('/tmp/x', { ...id, connectionId: 'globex' }).path,
    );
  });
});
