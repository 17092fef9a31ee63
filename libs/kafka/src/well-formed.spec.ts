import { wellFormedStrings } from './well-formed';

describe('wellFormedStrings', () => {
  it('replaces each lone surrogate by one U+FFFD, in nested fields too, and keeps valid pairs', () => {
    const r = {
      unique_id: 'conv:\udfff:x',
      profile: { email: 'a\ud800b' },
      list: ['ok', '\ud83d\ude00', '\ud83d'],
      n: 1,
      none: null,
    };
    expect(wellFormedStrings(r)).toEqual({
      unique_id: 'conv:\ufffd:x',
      profile: { email: 'a\ufffdb' },
      list: ['ok', '\ud83d\ude00', '\ufffd'],
      n: 1,
      none: null,
    });
    expect(r.unique_id).toBe('conv:\udfff:x'); // the input is not changed
  });

  it('returns a record without lone surrogates as it is (no copy)', () => {
    const r = { unique_id: 'conv:1:x', emoji: '\ud83d\ude00', nested: { a: 'b' }, buf: Buffer.from('x') };
    expect(wellFormedStrings(r)).toBe(r);
  });
});
