import type { DeadLetter } from '@iks/domain';
import { matchesWhere, reasonKey, reprocessHeaders } from './dlq.command';

const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
  original_topic: 'klaviyo.events.v1',
  partition: 0,
  offset: '5',
  key: Buffer.from('c1'),
  value: Buffer.from('v'),
  headers: [],
  stage: 'sink',
  error_class: 'KlaviyoRejectedError',
  error_message: 'Klaviyo 400 invalid: phone_number is not a valid phone number',
  error_code: 'invalid',
  retriable: false,
  attempts: 1,
  first_failure_at: 0,
  last_failure_at: 0,
  ...over,
});

describe('dlq helpers', () => {
  it('counts by class, Klaviyo code and message without numbers (the HTTP status kept)', () => {
    expect(reasonKey(letter())).toBe(
      'KlaviyoRejectedError [invalid]: Klaviyo 400 invalid: phone_number is not a valid phone number',
    );
    expect(
      reasonKey(
        letter({
          error_class: 'ContactNotIdentifiableError',
          error_code: null,
          error_message: 'contact 6571f0a1b2c3d4e5f6a7b8d0 unknown after 86400 s',
        }),
      ),
    ).toBe('ContactNotIdentifiableError: contact <id> unknown after # s');
  });

  it('--where matches the message or the class, case-insensitively', () => {
    expect(matchesWhere(letter(), 'PHONE_NUMBER')).toBe(true);
    expect(matchesWhere(letter(), 'klaviyorejected')).toBe(true);
    expect(matchesWhere(letter(), 'email')).toBe(false);
    expect(matchesWhere(letter(), null)).toBe(true);
  });

  it("keeps the original headers but the pipeline's iks-* ones, and says where the record came from", () => {
    const h = reprocessHeaders(
      letter({
        headers: [
          { key: 'trace-id', value: 'a' },
          { key: 'iks-attempt', value: '3' },
          { key: 'x', value: '1' },
          { key: 'x', value: '2' },
          { key: 'iks-reprocessed-from', value: 'old' },
        ],
      }),
      'klaviyo.events.v1.dlq:0:9',
    );
    expect(h).toEqual({ 'trace-id': 'a', x: ['1', '2'], 'iks-reprocessed-from': 'klaviyo.events.v1.dlq:0:9' });
  });
});
