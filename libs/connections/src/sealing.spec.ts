import { Secret } from '@iks/config';
import { key } from './__tests__/fixtures';
import { ConnectionSealer, NoSealingKeyError, UnsealError, type SealedValue } from './sealing';

const flip = (b: Buffer, i = 0): Buffer => {
  const c = Buffer.from(b);
  c[i] ^= 0x01;
  return c;
};

describe('ConnectionSealer (AES-256-GCM, AAD <connection id>\\n<field>)', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  const sealer = new ConnectionSealer([k1]);

  it('round-trips a value into a Secret, with a fresh 12-byte IV, a 16-byte tag and the key id beside it', () => {
    const a = sealer.seal('acme', 'intercom.access_token', 'tok_abcdefghijklmnopqrstuvwxyz');
    const b = sealer.seal('acme', 'intercom.access_token', new Secret('tok_abcdefghijklmnopqrstuvwxyz'));
    expect(a.keyId).toBe('k1');
    expect(a.iv).toHaveLength(12);
    expect(a.tag).toHaveLength(16);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext.toString('latin1')).not.toContain('tok_');
    const opened = sealer.unseal('acme', 'intercom.access_token', a);
    expect(opened).toBeInstanceOf(Secret);
    expect(opened.reveal()).toBe('tok_abcdefghijklmnopqrstuvwxyz');
    expect(sealer.unseal('acme', 'intercom.access_token', b).reveal()).toBe('tok_abcdefghijklmnopqrstuvwxyz');
    expect(String(opened)).toBe('[redacted]');
    expect(sealer.unseal('acme', 'klaviyo.private_key', sealer.seal('acme', 'klaviyo.private_key', '')).reveal()).toBe(
      '',
    );
  });

  describe('refuses a tampered value', () => {
    const sealed = sealer.seal('acme', 'klaviyo.private_key', 'pk_live_secret_value');
    const cases: Array<[string, SealedValue, string, Parameters<ConnectionSealer['unseal']>[1]]> = [
      [
        'a changed ciphertext byte',
        { ...sealed, ciphertext: flip(sealed.ciphertext, 3) },
        'acme',
        'klaviyo.private_key',
      ],
      ['a changed tag', { ...sealed, tag: flip(sealed.tag) }, 'acme', 'klaviyo.private_key'],
      ['a changed IV', { ...sealed, iv: flip(sealed.iv) }, 'acme', 'klaviyo.private_key'],
      [
        'a truncated ciphertext',
        { ...sealed, ciphertext: sealed.ciphertext.subarray(1) },
        'acme',
        'klaviyo.private_key',
      ],
      ['moved to another connection', sealed, 'other', 'klaviyo.private_key'],
      ['moved to another field', sealed, 'acme', 'intercom.access_token'],
    ];
    it.each(cases)('%s', (_what, value, id, field) => {
      expect(() => sealer.unseal(id, field, value)).toThrow(UnsealError);
      let message = '';
      try {
        sealer.unseal(id, field, value);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(new RegExp(`${field.replace(/\./g, '\\.')} of connection "${id}"`));
      expect(message).not.toContain('pk_live');
    });

    it('also when a whole sealed value of one connection is swapped into another record of the same field', () => {
      const a = sealer.seal('a', 'intercom.client_secret', 'secret-of-a');
      const b = sealer.seal('b', 'intercom.client_secret', 'secret-of-b');
      expect(sealer.unseal('a', 'intercom.client_secret', a).reveal()).toBe('secret-of-a');
      expect(() => sealer.unseal('a', 'intercom.client_secret', b)).toThrow(/does not open under key "k1"/);
      expect(() => sealer.unseal('b', 'intercom.client_secret', a)).toThrow(UnsealError);
    });
  });

  it('refuses an unknown key id, naming it and the ids it knows', () => {
    const other = new ConnectionSealer([k2]).seal('acme', 'intercom.client_secret', 'x');
    expect(() => sealer.unseal('acme', 'intercom.client_secret', other)).toThrow(
      'intercom.client_secret of connection "acme" is sealed under key id "k2", which CONNECTION_SECRET_KEYS does not list (it lists "k1")',
    );
  });

  it('rotation: the first key seals, every listed key unseals; a value re-sealed is under the new key', () => {
    const old = sealer.seal('acme', 'intercom.access_token', 'tok-old');
    const rotated = new ConnectionSealer([k2, k1]);
    expect(rotated.sealingKeyId).toBe('k2');
    expect(rotated.keyIds).toEqual(['k2', 'k1']);
    const clear = rotated.unseal('acme', 'intercom.access_token', old);
    expect(clear.reveal()).toBe('tok-old');
    const resealed = rotated.seal('acme', 'intercom.access_token', clear);
    expect(resealed.keyId).toBe('k2');
    // once the old key is dropped, only the re-sealed value opens
    const newOnly = new ConnectionSealer([k2]);
    expect(newOnly.unseal('acme', 'intercom.access_token', resealed).reveal()).toBe('tok-old');
    expect(() => newOnly.unseal('acme', 'intercom.access_token', old)).toThrow(/key id "k1"/);
  });

  it('needs a key (the message names CONNECTION_SECRET_KEYS)', () => {
    expect(() => new ConnectionSealer([])).toThrow(NoSealingKeyError);
    expect(() => new ConnectionSealer([])).toThrow(/CONNECTION_SECRET_KEYS is not set/);
  });
});
