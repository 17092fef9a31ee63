import { createRng } from '../tools/intercom-emulator/src/rng';
import { accountFuzzed, judgeAnswers, wellFormed, type AcceptedFuzz, type SeenDeadLetter } from './fuzz-accounting';
import { fuzzBaseId } from './fuzz.scenario';
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

const body = (id: string, extra = '') => JSON.stringify({ ...good, id, title: extra });
const hook = (
  label: string,
  b: string,
  kind: AcceptedFuzz['fate']['kind'],
  uniqueIds: string[] = [],
): AcceptedFuzz => ({
  label,
  body: b,
  fate: { kind, uniqueIds },
});
let at = 0;
const letter = (l: Omit<SeenDeadLetter, 'at'>): SeenDeadLetter => ({ at: `dlq[0]@${at++}`, ...l });

describe('accountFuzzed (whose dead letter is whose)', () => {
  it('two fuzzed webhooks with one notification id: the dead letter is the one whose body it holds (seed 30889)', () => {
    // the fuzzer wrote the same odd id into both; only the second fails to map
    const delivered = hook('envelope id', body('\ufeff\u200b\u2028\u2029', 'a'), 'events', [
      'intercom:conversation:1:part:103',
    ]);
    const dead = hook('unicode id', body('\ufeff\u200b\u2028\u2029', 'b'), 'dead_letter');
    const seen = [
      letter({
        topic: 'notifications',
        reason: 'MappingError: bad',
        notificationId: '\ufeff\u200b\u2028\u2029',
        body: dead.body,
      }),
    ];
    const a = accountFuzzed([delivered, dead], seen, new Set(['intercom:conversation:1:part:103']));
    expect(a.letters.get(dead)).toHaveLength(1);
    expect(a.letters.has(delivered)).toBe(false);
    expect(a.expected.get(delivered)).toEqual(['intercom:conversation:1:part:103']);
    expect([a.deadLettered, a.delivered, a.unaccounted, a.unattributed, a.attributedLetters]).toEqual([
      1,
      1,
      [],
      [],
      1,
    ]);
  });

  it('an id with a lone surrogate is matched as Avro carries it, U+FFFD (seed 30886)', () => {
    const w = hook('unicode id', body('\ud800', 'x'), 'dead_letter');
    const seen = [
      letter({ topic: 'notifications', reason: 'MappingError: x', notificationId: '\ufffd', body: wellFormed(w.body) }),
    ];
    const a = accountFuzzed([w], seen, new Set());
    expect(a.unaccounted).toEqual([]);
    expect(a.deadLettered).toBe(1);
    expect(a.attributedLetters).toBe(1);
    // and by id alone when the letter holds no body (one webhook has that id)
    const byId = accountFuzzed(
      [w],
      [letter({ topic: 'notificationsRetry', reason: 'gave up', notificationId: '\ufffd' })],
      new Set(),
    );
    expect(byId.unaccounted).toEqual([]);
  });

  it("a refused event is matched by unique_id (then source id); the webhook's other events stay expected", () => {
    const w1 = hook('huge_string a', body('n1'), 'events', ['u1', 'u2']);
    const w2 = hook('missing b', body('n2'), 'events', ['u3']);
    const seen = [
      letter({
        topic: 'events',
        reason: 'KlaviyoRejectedError: 400 too long',
        uniqueId: 'u2',
        sourceNotificationId: 'n1',
      }),
    ];
    const a = accountFuzzed([w1, w2], seen, new Set(['u1', 'u3']));
    expect(a.expected.get(w1)).toEqual(['u1']);
    expect(a.expected.get(w2)).toEqual(['u3']);
    expect([a.deadLettered, a.delivered]).toEqual([1, 1]);
  });

  it('reports what it cannot explain: a letter of nobody, an expected dead letter missing, an event held and dead-lettered', () => {
    const w = hook('deep', body('n1'), 'dead_letter');
    const p = hook('pending', body('n2'), 'pending');
    const e = hook('events', body('n3'), 'events', ['u9']);
    const seen = [
      letter({ topic: 'profiles', reason: 'KlaviyoRejectedError: 400', sourceNotificationId: 'someone else' }),
      letter({ topic: 'events', reason: 'KlaviyoRejectedError: 400', uniqueId: 'u9', sourceNotificationId: 'n3' }),
    ];
    const a = accountFuzzed([w, p, e], seen, new Set(['u9']));
    expect(a.unattributed.map((l) => l.topic)).toEqual(['profiles']);
    expect(a.unaccounted).toEqual([
      'deep: expected dead_letter, not in a dead-letter topic',
      'pending: expected pending, not in a dead-letter topic',
    ]);
    expect(a.storedAndLettered).toEqual(['u9']);
    expect(a.attributedLetters).toBe(1);
  });
});

describe('judgeAnswers (what ingest answered, apart from load)', () => {
  const v = (answers: number[], noAnswer?: string[], bytes = 2000) => ({ label: 'w', bytes, answers, noAnswer });
  it('a try without an answer or with a 503, then a final answer, is transient', () => {
    const j = judgeAnswers([v([0, 503, 200], ['timeout']), v([400]), v([0, 413], ['timeout'], 2_000_000)], 1 << 20);
    expect(j.broken).toEqual([]);
    expect([j.transient, j.tries]).toEqual([3, 6]);
  });
  it('fails a body never answered 200/400/413, a 500, and an oversized body reset or answered otherwise', () => {
    const j = judgeAnswers(
      [
        v([0, 0, 0], ['timeout', 'timeout', 'timeout']),
        v([500, 200]),
        v([0, 413], ['ECONNRESET'], 2_000_000),
        v([503, 413], undefined, 2_000_000),
      ],
      1 << 20,
    );
    expect(j.broken.filter((b) => /^\d+ fuzzed/.test(b))).toEqual([
      '1 fuzzed webhook(s) without a final 200/400/413',
      '1 fuzzed webhook(s) answered a 5xx other than 503',
      '2 fuzzed webhook(s) over the 1048576-byte limit but not answered 413 on every answered try (or reset)',
    ]);
  });
});

describe('fuzzBaseId', () => {
  it("numbers a seed's bases above the rig's own ids, with part ids within 32 bits", () => {
    for (const seed of [0, 1, 30885, 391953, 999_999, 2 ** 31]) {
      const id = fuzzBaseId(seed);
      expect(id).toBeGreaterThanOrEqual(1_000_000);
      expect((id + 500) * 100 + 99).toBeLessThan(2 ** 31);
    }
    expect(fuzzBaseId(30885)).toBe(fuzzBaseId(30885));
    expect(fuzzBaseId(30885)).not.toBe(fuzzBaseId(30886));
  });
});
