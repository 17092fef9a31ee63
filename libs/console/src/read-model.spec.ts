import type { DeliveryOutcome } from '@iks/domain';
import { DeliveryReadModel } from './read-model';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const outcome = (o: Partial<DeliveryOutcome> = {}): DeliveryOutcome => ({
  topic: 'klaviyo.events.v1', partition: 0, offset: '1', stage: 'sink', kind: 'delivered', reason: 'delivered', error_code: null,
  record_kind: 'event', metric: 'Ticket Resolved', unique_id: 'u1', intercom_contact_id: 'c1', email: 'Ada@Example.com', phone_number: '+442079460958',
  event_time: '2026-01-10T11:00:00Z', record_timestamp: NOW - 1000, outcome_at: NOW, properties_json: '{"a":1}', backfill: false, source_notification_id: 'n1', received_at: NOW - 1500, ...o,
});

describe('DeliveryReadModel', () => {
  it('counts each delivered unique_id once per metric, by window, and keeps the latest with properties', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome());
    m.apply(outcome({ offset: '2' })); // a redelivery: Klaviyo keeps the first
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
    m.apply(outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Ada"}' }));
    expect(m.person('ada@example.com')).toHaveLength(2);
    expect(m.person('+442079460958')).toHaveLength(2);
    expect(m.person('442079460958')).toHaveLength(2);
    expect(m.person('c1')).toHaveLength(2);
    expect(m.person('nobody')).toHaveLength(0);
  });

  it('stays bounded: per person and dead letters', () => {
    const m = new DeliveryReadModel({ latestPerMetric: 2, perPerson: 3, people: 10, personEntries: 100, deadLetters: 2, uniqueIds: 100, deletedPeople: 10 });
    for (let i = 0; i < 10; i++) m.apply(outcome({ unique_id: `u${i}`, offset: String(i) }));
    expect(m.person('c1')).toHaveLength(3);
    expect(m.metrics.get('Ticket Resolved')!.latest).toHaveLength(2);
    for (let i = 0; i < 5; i++) m.applyDeadLetter(`t.dlq:0:${i}`, null, null, 'bad');
    expect(m.letters.size).toBe(2);
    expect(m.lettersByReason.get('undecodable dead letter')).toBe(5);
  });

  it('keeps at most personEntries outcomes in the person index, forgetting the oldest first', () => {
    const m = new DeliveryReadModel({ latestPerMetric: 2, perPerson: 10, people: 100, personEntries: 4, deadLetters: 2, uniqueIds: 100, deletedPeople: 10 });
    for (let i = 0; i < 3; i++) m.apply(outcome({ unique_id: `a${i}`, intercom_contact_id: 'ca', email: 'a@example.com', phone_number: null, outcome_at: NOW + i }));
    for (let i = 0; i < 3; i++) m.apply(outcome({ unique_id: `b${i}`, intercom_contact_id: 'cb', email: 'b@example.com', phone_number: null, outcome_at: NOW + 10 + i }));
    expect(m.person('ca').map((v) => v.uniqueId)).toEqual(['a2']);
    expect(m.person('a@example.com').map((v) => v.uniqueId)).toEqual(['a2']);
    expect(m.person('cb').map((v) => v.uniqueId)).toEqual(['b0', 'b1', 'b2']);
    m.apply(outcome({ unique_id: 'b3', intercom_contact_id: 'cb', email: 'b@example.com', phone_number: null, outcome_at: NOW + 20 }));
    expect(m.person('ca')).toEqual([]);
    // the consecutive outcomes of one person share one ids object
    const [x, y] = m.person('cb');
    expect(x.ids).toBe(y.ids);
    expect(x.at).toBe('klaviyo.events.v1:0:1');
  });

  it('keeps the attributes of a person\'s newest profile only', () => {
    const m = new DeliveryReadModel();
    m.apply(outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Ada"}' }));
    m.apply(outcome({ record_kind: 'profile', metric: null, unique_id: null, properties_json: '{"first_name":"Augusta"}', outcome_at: NOW + 1 }));
    expect(m.person('c1').map((v) => v.properties)).toEqual([null, '{"first_name":"Augusta"}']);
  });
});
