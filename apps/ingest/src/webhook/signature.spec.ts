import { createHmac } from 'node:crypto';
import { sign, verifySignature } from './signature';

const body = Buffer.from(
  '{"type":"notification_event","id":"notif_1","topic":"ping","data":{"item":{"message":"héllo"}}}',
);
const hex = (secret: string, b: Buffer) => createHmac('sha1', secret).update(b).digest('hex');

describe('verifySignature (X-Hub-Signature: sha1=HMAC-SHA1(raw body, client secret))', () => {
  it('accepts the signature of the exact bytes', () => {
    expect(verifySignature(body, `sha1=${hex('secret-1', body)}`, ['secret-1'])).toBe(true);
  });

  it('rejects a wrong signature, a wrong secret and a missing header', () => {
    expect(verifySignature(body, `sha1=${hex('other', body)}`, ['secret-1'])).toBe(false);
    expect(verifySignature(body, 'sha1=deadbeef', ['secret-1'])).toBe(false);
    expect(verifySignature(body, undefined, ['secret-1'])).toBe(false);
    expect(verifySignature(body, hex('secret-1', body), ['secret-1'])).toBe(false); // no sha1= prefix
    expect(verifySignature(body, `sha256=${hex('secret-1', body)}`, ['secret-1'])).toBe(false);
  });

  it('rejects a re-serialised body (same JSON, other bytes)', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(verifySignature(reserialised, `sha1=${hex('secret-1', body)}`, ['secret-1'])).toBe(false);
  });

  it('accepts any of several secrets (rotation)', () => {
    expect(verifySignature(body, sign(body, 'new'), ['old', 'new'])).toBe(true);
    expect(verifySignature(body, sign(body, 'old'), ['old', 'new'])).toBe(true);
    expect(verifySignature(body, sign(body, 'gone'), ['old', 'new'])).toBe(false);
  });
});

describe('verifySignature parses the header strictly', () => {
  const good = `sha1=${hex('secret-1', body)}`;

  it('rejects trailing garbage after a valid signature (hex decoding would stop at it)', () => {
    expect(verifySignature(body, `${good}GARBAGE`, ['secret-1'])).toBe(false);
    expect(verifySignature(body, `${good}0`, ['secret-1'])).toBe(false);
    expect(verifySignature(body, `${good} x`, ['secret-1'])).toBe(false);
  });

  it('rejects a duplicated header (Node joins repeated headers with ", "; Fastify may give an array)', () => {
    expect(verifySignature(body, `${good}, ${good}`, ['secret-1'])).toBe(false);
    expect(verifySignature(body, [good, good], ['secret-1'])).toBe(false);
    expect(verifySignature(body, [good], ['secret-1'])).toBe(false);
  });

  it('still accepts upper-case hex', () => {
    expect(verifySignature(body, `sha1=${hex('secret-1', body).toUpperCase()}`, ['secret-1'])).toBe(true);
  });
});
