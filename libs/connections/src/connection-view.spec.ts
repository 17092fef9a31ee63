import { Secret } from '@iks/config';
import { connectionFromAvro, connectionToAvro, loadSchema, type ConnectionRecord } from '@iks/kafka';
import { connection, key } from './__tests__/fixtures';
import { sealConnection, unsealConnection } from './connection-record';
import { ConnectionView } from './connection-view';
import type { Connection } from './connection.types';
import { ANY_WORKSPACE } from './default-connection';
import { ConnectionSealer } from './sealing';

const k1 = key('k1');
const sealer = new ConnectionSealer([k1]);
const rec = (c: Connection, s = sealer): ConnectionRecord => sealConnection(c, s);

/** Through the Avro schema and back, as the topic carries it. */
function viaAvro(r: ConnectionRecord): ConnectionRecord {
  const type = loadSchema('connection.avsc').type;
  return connectionFromAvro(type.fromBuffer(type.toBuffer(connectionToAvro(r))));
}

const defaultConnection = (appId = ANY_WORKSPACE): Connection =>
  connection('default', {
    fromEnvironment: true,
    revision: 0,
    intercom: { ...connection('x').intercom, appId, clientSecret: new Secret('env-secret-1') },
  });

describe('connection records', () => {
  it('seal every secret, survive the Avro schema, and unseal into the same connection', () => {
    const c = connection('acme', {
      klaviyo: {
        ...connection('acme').klaviyo,
        auth: 'oauth',
        oauth: {
          clientId: 'cid',
          accessToken: new Secret('oauth-access-0123'),
          refreshToken: new Secret('oauth-refresh-0123'),
          expiresAt: 1_800_000_000_000,
          scopes: ['events:write'],
        },
      },
    });
    const bytes = loadSchema('connection.avsc').type.toBuffer(connectionToAvro(rec(c)));
    const text = bytes.toString('latin1');
    for (const s of ['client-secret-acme', 'access-token-acme', 'pk_private-key-acme', 'oauth-access', 'oauth-refresh'])
      expect(text).not.toContain(s);
    expect(text).toContain('app-acme');
    const back = unsealConnection(viaAvro(rec(c)), sealer);
    expect(back.intercom.clientSecret?.reveal()).toBe('client-secret-acme-0123456789');
    expect(back.klaviyo.oauth?.refreshToken.reveal()).toBe('oauth-refresh-0123');
    expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(c)));
  });

  it('refuse a record with the reserved id, no workspace or an unknown metric key', () => {
    expect(() => unsealConnection(rec(connection('default')), sealer)).toThrow(/"default" is the environment's/);
    const noApp = rec(connection('a', { intercom: { ...connection('a').intercom, appId: ANY_WORKSPACE } }));
    expect(() => unsealConnection(noApp, sealer)).toThrow(/names no Intercom workspace/);
    const r = rec(connection('a'));
    expect(() => unsealConnection({ ...r, settings: { ...r.settings, metricNames: { nope: 'x' } } }, sealer)).toThrow(
      /unknown metric key "nope"/,
    );
  });
});

describe('ConnectionView', () => {
  it('applies records by revision: a lower one never replaces a higher one; an equal one (later in the partition) does', () => {
    const v = new ConnectionView(sealer);
    const seen: Array<[string, string | undefined]> = [];
    v.onChange((c, p) => seen.push([`${c.id}@${c.revision}:${c.status}`, p && `${p.id}@${p.revision}`]));
    expect(v.applyRecord('a', rec(connection('a', { revision: 3, name: 'three' }))).kind).toBe('applied');
    expect(v.applyRecord('a', rec(connection('a', { revision: 2, name: 'two' })))).toEqual({
      kind: 'stale',
      revision: 2,
      current: 3,
    });
    expect(v.get('a')?.name).toBe('three');
    expect(v.applyRecord('a', rec(connection('a', { revision: 3, name: 'three again' }))).kind).toBe('applied');
    expect(v.get('a')?.name).toBe('three again');
    v.applyRecord('a', rec(connection('a', { revision: 4, status: 'paused' })));
    expect(v.get('a')?.status).toBe('paused');
    expect(v.revisionOf('a')).toBe(4);
    expect(v.stats).toEqual({ applied: 3, stale: 1, unusable: 0, tombstones: 0 });
    expect(seen).toEqual([
      ['a@3:active', undefined],
      ['a@3:active', 'a@3'],
      ['a@4:paused', 'a@3'],
    ]);
  });

  it('routes by workspace: removed connections claim nothing; the default claims its app id or, as ANY_WORKSPACE, the rest', () => {
    const v = new ConnectionView(sealer, {
      connection: defaultConnection(),
      clientSecrets: [new Secret('env-secret-1'), new Secret('env-secret-2')],
    });
    v.applyRecord('a', rec(connection('a')));
    v.applyRecord('b', rec(connection('b', { status: 'removed' })));
    expect(v.byAppId('app-a')?.id).toBe('a');
    expect(v.byAppId('app-b')?.id).toBe('default');
    expect(v.byAppId('someone-else')?.id).toBe('default');
    expect(v.all().map((c) => c.id)).toEqual(['default', 'a']);
    expect(v.allWithRemoved().map((c) => c.id)).toEqual(['default', 'a', 'b']);
    expect(v.get('default')?.fromEnvironment).toBe(true);
    expect(v.clientSecrets().map((s) => s.reveal())).toEqual([
      'env-secret-1',
      'client-secret-a-0123456789',
      'env-secret-2',
    ]);

    const pinned = new ConnectionView(sealer, { connection: defaultConnection('app-env') });
    expect(pinned.byAppId('app-env')?.id).toBe('default');
    expect(pinned.byAppId('someone-else')).toBeUndefined();
    const none = new ConnectionView(sealer);
    expect(none.byAppId('someone-else')).toBeUndefined();
    expect(none.get('default')).toBeUndefined();
    expect(none.clientSecrets()).toEqual([]);
  });

  it('a record that cannot be unsealed is counted and reported, takes its connection out, and a good later revision brings it back', () => {
    const v = new ConnectionView(sealer);
    const left: string[] = [];
    v.onChange((c) => left.push(`${c.id}:${c.status}`));
    v.applyRecord('a', rec(connection('a', { revision: 1 })));
    const foreign = new ConnectionSealer([key('k9')]);
    const outcome = v.applyRecord('a', rec(connection('a', { revision: 2 }), foreign));
    expect(outcome.kind).toBe('unusable');
    expect(JSON.stringify(outcome)).not.toContain('0123456789');
    expect(v.get('a')).toBeUndefined();
    expect(v.byAppId('app-a')).toBeUndefined();
    expect(v.unusable()).toEqual([
      { id: 'a', revision: 2, reason: expect.stringContaining('sealed under key id "k9"') },
    ]);
    expect(v.keyIdsOf('a')).toEqual(['k9']);
    expect(v.revisionOf('a')).toBe(2);
    expect(left).toEqual(['a:active', 'a:removed']);

    // tampered: a sealed value of b moved into a's record
    const b = rec(connection('b'));
    const tampered = rec(connection('a', { revision: 3 }));
    v.applyRecord('a', { ...tampered, klaviyo: { ...tampered.klaviyo, privateKey: b.klaviyo.privateKey } });
    expect(v.unusable()[0]).toEqual({
      id: 'a',
      revision: 3,
      reason: expect.stringContaining('klaviyo.private_key of connection "a" does not open'),
    });

    v.applyUndecodable('z', 'cannot decode the record as Avro');
    expect(v.unusable().map((u) => [u.id, u.revision])).toEqual([
      ['a', 3],
      ['z', null],
    ]);
    expect(v.stats.unusable).toBe(3);

    expect(v.applyRecord('a', rec(connection('a', { revision: 3, name: 'fixed' }))).kind).toBe('applied');
    expect(v.get('a')?.name).toBe('fixed');
    expect(v.unusable().map((u) => u.id)).toEqual(['z']);
  });

  it('a record keyed by another id is unusable; a tombstone forgets the id and a new revision 1 is accepted after it', () => {
    const v = new ConnectionView(sealer);
    expect(v.applyRecord('b', rec(connection('a'))).kind).toBe('unusable');
    v.applyRecord('a', rec(connection('a', { revision: 5 })));
    const changes: string[] = [];
    v.onChange((c, p) => changes.push(`${c.status}<-${p?.status}`));
    expect(v.applyTombstone('a')).toEqual({ kind: 'tombstone', existed: true });
    expect(v.get('a')).toBeUndefined();
    expect(v.revisionOf('a')).toBeUndefined();
    expect(changes).toEqual(['removed<-active']);
    expect(v.applyRecord('a', rec(connection('a', { revision: 1 }))).kind).toBe('applied');
    expect(v.get('a')?.revision).toBe(1);
  });

  it('without a sealer, a record with sealed secrets is unusable and says the variable is missing', () => {
    const v = new ConnectionView(null);
    const o = v.applyRecord('a', rec(connection('a')));
    expect(o).toEqual({ kind: 'unusable', reason: expect.stringContaining('CONNECTION_SECRET_KEYS is not set') });
  });

  it('whenRevision resolves once the revision is read, and times out otherwise', async () => {
    const v = new ConnectionView(sealer);
    const waiting = v.whenRevision('a', 2, 5000);
    v.applyRecord('a', rec(connection('a', { revision: 1 })));
    let done = false;
    void waiting.then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    v.applyRecord('a', rec(connection('a', { revision: 2 })));
    await waiting;
    await expect(v.whenRevision('a', 9, 20)).rejects.toThrow(/revision 9 not read within 20 ms/);
  });
});
