import { createRng } from '../tools/intercom-emulator/src/rng';
import { FUZZ_KINDS, fuzzNotification } from './webhook-fuzzer';

const good = {
  type: 'notification_event',
  id: 'notif_1',
  topic: 'conversation.user.created',
  app_id: 'app1',
  created_at: 1_700_000_000,
  delivery_attempts: 1,
  first_sent_at: 1_700_000_000,
  data: {
    type: 'notification_event_data',
    item: {
      type: 'conversation',
      id: '42',
      created_at: 1_700_000_000,
      updated_at: 1_700_000_001,
      title: 'Hello',
      tags: { tags: [{ id: '1', name: 'vip' }] },
    },
  },
};

describe('fuzzNotification', () => {
  it('damages one thing per body, of the kind asked, and never the original', () => {
    const rng = createRng(7);
    const before = JSON.stringify(good);
    for (const kind of FUZZ_KINDS) {
      for (let i = 0; i < 20; i++) {
        const f = fuzzNotification(good, rng, kind);
        expect(f.kind).toBe(kind);
        expect(f.body).not.toBe(before);
      }
    }
    expect(JSON.stringify(good)).toBe(before);
  });

  it('is deterministic for a seed', () => {
    const a = Array.from({ length: 50 }, (_, i) => fuzzNotification(good, createRng(i)).body);
    const b = Array.from({ length: 50 }, (_, i) => fuzzNotification(good, createRng(i)).body);
    expect(a).toEqual(b);
  });

  it('not_json bodies do not parse; deep bodies nest as deep as they say; huge strings are that long', () => {
    const rng = createRng(3);
    for (let i = 0; i < 20; i++) expect(() => JSON.parse(fuzzNotification(good, rng, 'not_json').body)).toThrow();
    const deep = fuzzNotification(good, createRng(1), 'deep');
    const depth = Number(/depth (\d+)/.exec(deep.where)![1]);
    expect(deep.body.length).toBeGreaterThan(depth * 2);
    const huge = fuzzNotification(good, createRng(2), 'huge_string');
    expect(huge.body.length).toBeGreaterThanOrEqual(Number(/\((\d+) chars\)/.exec(huge.where)![1]));
  });
});
