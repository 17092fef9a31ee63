import { E164_CACHE_ENTRIES, toE164 } from '../e164.util';

jest.mock('libphonenumber-js', () => {
  const actual = jest.requireActual('libphonenumber-js');
  return { ...actual, parsePhoneNumberFromString: jest.fn(actual.parsePhoneNumberFromString) };
});
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parse: jest.Mock = require('libphonenumber-js').parsePhoneNumberFromString;

describe('toE164 memo', () => {
  beforeEach(() => parse.mockClear());

  it('parses a (number, region) once and answers the same from memory, invalid numbers included', () => {
    expect(toE164('(415) 555-2671', 'US')).toBe('+14155552671');
    expect(toE164(' (415) 555-2671 ', 'us')).toBe('+14155552671');
    expect(toE164('call me', 'US')).toBeUndefined();
    expect(toE164('call me', 'US')).toBeUndefined();
    expect(parse).toHaveBeenCalledTimes(2);
  });

  it('keys by region: the same digits in another region are parsed for that region', () => {
    expect(toE164('0412 345 678', 'AU')).toBe('+61412345678');
    expect(toE164('0412 345 678')).toBeUndefined();
    expect(toE164('0412 345 678', 'AU')).toBe('+61412345678');
    expect(parse).toHaveBeenCalledTimes(2);
  });

  it('is bounded: the least recently used answer leaves first, a recent one stays', () => {
    const n = (i: number) => `+1415555${String(i).padStart(4, '0')}`;
    for (let i = 0; i < E164_CACHE_ENTRIES; i++) toE164(n(i)); // the memo now holds exactly these
    toE164(n(0)); // used again: now the most recent
    toE164('+447911123456'); // one over the bound: n(1), the least recently used, leaves
    parse.mockClear();
    expect(toE164(n(0))).toBe(n(0));
    expect(parse).toHaveBeenCalledTimes(0);
    toE164(n(1));
    expect(parse).toHaveBeenCalledTimes(1);
  });
});
