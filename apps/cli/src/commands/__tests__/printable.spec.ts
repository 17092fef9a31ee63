import { printable, printableJson } from '../printable';

describe('printable: dead-letter fields on an operator terminal', () => {
  const hostile = 'boom\u001b]0;owned\u0007\u001b[2J\u009b31m\r\nnext\u202eevil\u0000';

  it('writes control, C1 and bidi characters as visible escapes, whitespace as one space', () => {
    const out = printable(hostile);
    expect(out).toBe('boom\\x1b]0;owned\\x07\\x1b[2J\\x9b31m next\\u202eevil\\x00');
    // eslint-disable-next-line no-control-regex -- asserts no raw control character is left
    expect(out).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
  });

  it('leaves ordinary text, including non-Latin letters, alone', () => {
    expect(printable('Klaviyo 400: invalid email «zoë@例え.jp»')).toBe('Klaviyo 400: invalid email «zoë@例え.jp»');
  });

  it('JSON lines stay the same JSON value but carry no raw control character', () => {
    const value = { error_message: hostile, key: 'k\u007f', headers: [{ key: 'x', value: '\u009b1m' }] };
    const line = printableJson(value);
    // eslint-disable-next-line no-control-regex -- asserts no raw control character is left
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(JSON.parse(line)).toEqual(value);
  });
});
