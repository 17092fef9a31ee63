import type { DeliveryOutcome } from '@iks/domain';
import { DeliveryReadModel } from './read-model';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const outcome = (o: Partial<DeliveryOutcome> = {}): DeliveryOutcome => ({
  topic: 'klaviyo.events.v1',
  partition: 0,
  offset: '1',
  stage: 'sink',
  kind: 'delivered',
  reason: 'delivered',
  error_code: null,
  record_kind: 'event',
  metric: 'Ticket Resolved',
  unique_id: 'u1',
  intercom_contact_id: 'c1',
  email: 'Ada@Example.com',
  phone_number: '+442079460958',
  event_time: '2026-01-10T11:00:00Z',
  record_timestamp: NOW - 1000,
  outcome_at: NOW,
  properties_json: '{"a":1}',
  backfill: false,
  source_notification_id: 'n1',
  received_at: NOW - 1500,
  ...o,
});

describe('DeliveryReadModel', () => {
  it('counts each delivered unique_id once per metric, by window, and keeps the latest with properties', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome());
    m.apply(outcome({ offset: '2', outcome_at: NOW + 5 })); // a redelivery, in a later slice: Klaviyo keeps the first
    m.apply(outcome({ unique_id: 'u2', outcome_at: NOW - 2 * 3600_000, event_time: '2026-01-10T11:30:00Z' }));
    m.apply(outcome({ unique_id: 'u3', kind: 'dead_lettered', reason: 'KlaviyoRejectedError: 400' }));
    const s = m.metrics.get('Ticket Resolved')!;
    expect([s.delivered, s.repeats, s.deadLettered]).toEqual([2, 1, 1]);
    expect(m.deliveredSince(s, NOW, 60)).toBe(1);
    expect(m.deliveredSince(s, NOW, 24 * 60)).toBe(2);
    expect(s.lastEventTime).toBe('2026-01-10T11:30:00Z');
    expect(s.latest).toHaveLength(4);
    expect(s.latest[0].properties).toBe('{"a":1}');
    expect(m.series(s.perMinute, NOW, 24, 60).reduce((a, b) => a + b)).toBe(2);
  });

  it('finds a person by email (any case), phone or contact id', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome());
    m.apply(
      outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Ada"}' }),
    );
    expect(m.person('ada@example.com')).toHaveLength(2);
    expect(m.person('+442079460958')).toHaveLength(2);
    expect(m.person('442079460958')).toHaveLength(2);
    expect(m.person('c1')).toHaveLength(2);
    expect(m.person('nobody')).toHaveLength(0);
  });

  it('stays bounded: per person and dead letters', () => {
    const m = new DeliveryReadModel({
      latestPerMetric: 2,
      perPerson: 3,
      people: 10,
      personEntries: 100,
      deadLetters: 2,
      uniqueIds: 100,
      deletedPeople: 10,
    });
    for (let i = 0; i < 10; i++) m.apply(outcome({ unique_id: `u${i}`, offset: String(i) }));
    expect(m.person('c1')).toHaveLength(3);
    expect(m.metrics.get('Ticket Resolved')!.latest).toHaveLength(2);
    for (let i = 0; i < 5; i++) m.applyDeadLetter(`t.dlq:0:${i}`, null, null, 'bad');
    expect(m.letters.size).toBe(2);
    expect(m.lettersByReason.get('undecodable dead letter')).toEqual({
      count: 5,
      example: 'undecodable dead letter: bad',
    });
  });

  it('keeps at most personEntries outcomes in the person index, forgetting the oldest first', () => {
    const m = new DeliveryReadModel({
      latestPerMetric: 2,
      perPerson: 10,
      people: 100,
      personEntries: 4,
      deadLetters: 2,
      uniqueIds: 100,
      deletedPeople: 10,
    });
    for (let i = 0; i < 3; i++)
      m.apply(
        outcome({
          unique_id: `a${i}`,
          intercom_contact_id: 'ca',
          email: 'a@example.com',
          phone_number: null,
          outcome_at: NOW + i,
        }),
      );
    for (let i = 0; i < 3; i++)
      m.apply(
        outcome({
          unique_id: `b${i}`,
          intercom_contact_id: 'cb',
          email: 'b@example.com',
          phone_number: null,
          outcome_at: NOW + 10 + i,
        }),
      );
    expect(m.person('ca').map((v) => v.uniqueId)).toEqual(['a2']);
    expect(m.person('a@example.com').map((v) => v.uniqueId)).toEqual(['a2']);
    expect(m.person('cb').map((v) => v.uniqueId)).toEqual(['b0', 'b1', 'b2']);
    m.apply(
      outcome({
        unique_id: 'b3',
        intercom_contact_id: 'cb',
        email: 'b@example.com',
        phone_number: null,
        outcome_at: NOW + 20,
      }),
    );
    expect(m.person('ca')).toEqual([]);
    // the consecutive outcomes of one person share one ids object
    const [x, y] = m.person('cb');
    expect(x.ids).toBe(y.ids);
    expect(x.at).toBe('klaviyo.events.v1:0:1');
  });

  it("keeps the attributes of a person's newest profile only", () => {
    const m = new DeliveryReadModel();
    m.apply(
      outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Ada"}' }),
    );
    m.apply(
      outcome({
        record_kind: 'profile',
        metric: null,
        unique_id: null,
        properties_json: '{"first_name":"Augusta"}',
        outcome_at: NOW + 1,
      }),
    );
    expect(m.person('c1').map((v) => v.properties)).toEqual([null, '{"first_name":"Augusta"}']);
  });

  describe('copies: what each delivered event was to Klaviyo', () => {
    it('marks the first copy new, a copy in a later slice repeat, an identical copy of the same slice same_request', () => {
      const m = new DeliveryReadModel();
      m.apply(outcome({ offset: '1' })); // slice A
      m.apply(outcome({ offset: '2' })); // slice A again, identical: one entry in the request
      m.apply(outcome({ offset: '3', properties_json: '{"a":2}' })); // slice A, other content: the batcher defers it, a copy of its own
      m.apply(outcome({ offset: '7', outcome_at: NOW + 60_000 })); // slice B: sent again
      m.apply(outcome({ offset: '8', outcome_at: NOW + 60_000, partition: 1 })); // other partition, same ms: another request
      m.apply(outcome({ offset: '9', kind: 'skipped', reason: 'contact_deleted', outcome_at: NOW + 70_000 })); // never sent
      m.apply(
        outcome({
          offset: '10',
          unique_id: 'u2',
          kind: 'dead_lettered',
          reason: 'KlaviyoRejectedError: 400',
          outcome_at: NOW + 70_000,
        }),
      );
      const s = m.metrics.get('Ticket Resolved')!;
      expect(s.latest.map((v) => v.copy)).toEqual(['new', 'same_request', 'repeat', 'repeat', 'repeat', null, null]);
      expect({
        delivered: s.delivered,
        repeats: s.repeats,
        sameRequest: s.sameRequest,
        skipped: s.skipped,
        deadLettered: s.deadLettered,
      }).toEqual({ delivered: 1, repeats: 3, sameRequest: 1, skipped: 1, deadLettered: 1 });
      // the same on the Person page, row by row
      expect(m.person('c1').map((v) => v.copy ?? v.kind)).toEqual([
        'new',
        'same_request',
        'repeat',
        'repeat',
        'repeat',
        'skipped',
        'dead_lettered',
      ]);
      // and in the Pipeline summary: 5 delivered event records, of which 1 stored, 3 repeats, 1 in the same request
      expect(m.recordKind('event')).toEqual({
        delivered: 5,
        repeats: 3,
        sameRequest: 1,
        skipped: 1,
        deadLettered: 1,
        retried: 0,
        pending: 0,
      });
    });

    it('counts each unique_id per metric: the same unique_id under another metric is another event', () => {
      const m = new DeliveryReadModel();
      m.apply(outcome());
      m.apply(outcome({ metric: 'Ticket Created' }));
      expect([m.metrics.get('Ticket Resolved')!.delivered, m.metrics.get('Ticket Created')!.delivered]).toEqual([1, 1]);
    });

    it('keeps profiles and deletions out of the events: the summary separates them', () => {
      const m = new DeliveryReadModel();
      m.apply(outcome());
      m.apply(
        outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Ada"}' }),
      );
      m.apply(
        outcome({
          record_kind: 'profile',
          metric: null,
          unique_id: null,
          properties_json: '{"first_name":"Ada"}',
          outcome_at: NOW + 1,
        }),
      );
      m.apply(
        outcome({ record_kind: 'deletion', metric: null, unique_id: null, properties_json: null, outcome_at: NOW + 2 }),
      );
      m.apply(
        outcome({
          record_kind: null,
          metric: null,
          unique_id: null,
          kind: 'dead_lettered',
          reason: 'RecordDecodeError: bad',
          intercom_contact_id: null,
          email: null,
          phone_number: null,
        }),
      );
      expect(m.recordKind('event').delivered).toBe(1);
      expect(m.recordKind('profile').delivered).toBe(2);
      expect(m.recordKind('deletion').delivered).toBe(1);
      expect(m.recordKind('undecodable').deadLettered).toBe(1);
      expect([...m.metrics.keys()]).toEqual(['Ticket Resolved']);
    });
  });

  describe('a deleted person', () => {
    const deletion = (o: Partial<DeliveryOutcome> = {}) =>
      outcome({
        record_kind: 'deletion',
        metric: null,
        unique_id: null,
        properties_json: null,
        event_time: '2026-01-10T12:00:00Z',
        outcome_at: NOW + 100,
        offset: '50',
        ...o,
      });

    it('keeps nothing of her once the deletion outcome arrives: no email, phone, attributes or properties; her ids, times and states stay', () => {
      const m = new DeliveryReadModel();
      m.apply(outcome());
      m.apply(
        outcome({
          unique_id: 'u2',
          kind: 'dead_lettered',
          reason: 'KlaviyoRejectedError: 400 invalid email Ada@Example.com',
          outcome_at: NOW + 1,
        }),
      );
      m.apply(
        outcome({
          record_kind: 'profile',
          metric: null,
          unique_id: null,
          properties_json: '{"first_name":"Ada","properties":{"plan":"pro"}}',
          outcome_at: NOW + 2,
        }),
      );
      // one outcome known by her email only (no contact id)
      m.apply(outcome({ unique_id: 'u3', intercom_contact_id: null, phone_number: null, outcome_at: NOW + 3 }));
      m.applyDeadLetter(
        'klaviyo.events.v1.dlq:0:0',
        {
          original_topic: 'klaviyo.events.v1',
          partition: 0,
          offset: '4',
          key: Buffer.from('c1'),
          value: Buffer.from('Ada@Example.com'),
          headers: [{ key: 'x', value: 'Ada' }],
          stage: 'sink',
          error_class: 'KlaviyoRejectedError',
          error_message: '400',
          error_code: null,
          retriable: false,
          attempts: 1,
          first_failure_at: NOW,
          last_failure_at: NOW,
        },
        '{"email":"Ada@Example.com"}',
      );
      expect(m.person('ada@example.com')).toHaveLength(4);
      m.apply(deletion({ kind: 'delivered' }));
      m.apply(outcome({ unique_id: 'u4', kind: 'skipped', reason: 'contact_deleted', outcome_at: NOW + 200 })); // after it: skipped, and stripped on arrival

      expect(m.deletedPerson('c1')).toEqual({
        contactId: 'c1',
        requestedAt: Date.parse('2026-01-10T12:00:00Z'),
        state: 'delivered',
        outcomeAt: NOW + 100,
      });
      expect(m.person('ada@example.com')).toEqual([]);
      expect(m.person('+442079460958')).toEqual([]);
      const rows = m.person('c1');
      expect(rows.map((v) => v.uniqueId ?? v.recordKind)).toEqual(['u1', 'u2', 'profile', 'u3', 'deletion', 'u4']);
      const held = JSON.stringify(
        [rows, [...m.metrics.values()].map((s) => s.latest), [...m.letters.values()]],
        (_k, v) => (v instanceof Map || v instanceof Set ? [...v] : v),
      );
      for (const personal of ['Ada@Example.com', 'ada@example.com', '+442079460958', 'first_name', 'plan', '"a":1'])
        expect(held).not.toContain(personal);
      for (const v of rows) expect([v.email, v.phone, v.properties, v.contactId]).toEqual([null, null, null, 'c1']);
      const letter = m.letters.get('klaviyo.events.v1.dlq:0:0')!;
      expect([letter.erased, letter.decoded, letter.letter?.value, letter.letter?.headers]).toEqual([
        true,
        null,
        null,
        [],
      ]);
      // the counts stay what they were
      expect(m.metrics.get('Ticket Resolved')!.delivered).toBe(2);
    });

    it('also drops her when the deletion was dead-lettered (Intercom deleted her all the same), and says so', () => {
      const m = new DeliveryReadModel();
      m.apply(outcome());
      m.apply(deletion({ kind: 'dead_lettered', reason: 'KlaviyoRejectedError: 400' }));
      expect(m.deletedPerson('c1')?.state).toBe('dead_lettered');
      expect(m.person('ada@example.com')).toEqual([]);
    });

    it('keeps her until then, and a retried deletion is not yet a deletion', () => {
      const m = new DeliveryReadModel();
      m.apply(outcome());
      m.apply(deletion({ kind: 'retried', reason: 'KafkaJSConnectionError: down' }));
      expect(m.deletedPerson('c1')).toBeUndefined();
      expect(m.person('ada@example.com')).toHaveLength(1); // the deletion request itself is indexed by contact id only
      expect(m.person('c1')).toHaveLength(2);
    });
  });

  describe('dead letters by reason', () => {
    const letter = (message: string, stage = 'transformer') => ({
      original_topic: 'intercom.notifications.v1',
      partition: 0,
      offset: '1',
      key: Buffer.from('conversation:1'),
      value: null,
      headers: [],
      stage,
      error_class: 'MappingError',
      error_message: message,
      error_code: null,
      retriable: false,
      attempts: 1,
      first_failure_at: NOW,
      last_failure_at: NOW,
    });

    it('groups by the masked key but shows a reason as written, and counts by stage', () => {
      const m = new DeliveryReadModel();
      m.applyDeadLetter('a.dlq:0:0', letter('payload in the pre-2.0 API shape: set the API version to 2.x'), null);
      m.applyDeadLetter('a.dlq:0:1', letter('payload in the pre-1.4 API shape: set the API version to 2.x'), null);
      m.applyDeadLetter('b.dlq:0:0', { ...letter('400'), stage: 'sink', error_class: 'KlaviyoRejectedError' }, null);
      const groups = [...m.lettersByReason.values()];
      expect(groups).toEqual([
        {
          count: 2,
          example: 'transformer · MappingError: payload in the pre-2.0 API shape: set the API version to 2.x',
        },
        { count: 1, example: 'sink · KlaviyoRejectedError: 400' },
      ]);
      expect(m.letters.get('a.dlq:0:0')!.reason).toContain('pre-2.0');
      expect(Object.fromEntries(m.lettersByStage)).toEqual({ transformer: 2, sink: 1 });
      expect(m.deadLetterCount).toBe(3);
    });
  });
});
