import { METRICS } from '@iks/domain';
import { EXAMPLE_EMAIL, exampleRecords } from './examples';

describe("exampleRecords (a new connection's sample data)", () => {
  it('one event of each of the nine metrics, all about the example person and marked as examples', () => {
    const { profile, events } = exampleRecords({}, Date.UTC(2026, 11, 7, 10, 0, 0, 400));
    expect(events.map((e) => e.metric).sort()).toEqual(Object.values(METRICS).sort());
    for (const e of events) {
      expect(e).toMatchObject({
        kind: 'event',
        profile: { email: EXAMPLE_EMAIL },
        time: '2026-12-07T10:00:00Z',
        backfill: false,
        properties: expect.objectContaining({ Example: true }),
      });
      expect(e.unique_id).toMatch(/^example:intercom:(conversation|ticket):/);
      expect(e.profile).not.toHaveProperty('phone_number');
    }
    // the mapping's own properties are there, e.g. the conversation's id and the ticket's title
    expect(events.find((e) => e.metric === 'Conversation Created')!.properties).toHaveProperty('Conversation ID');
    expect(new Set(events.map((e) => e.unique_id)).size).toBe(9);
    expect(profile).toMatchObject({ kind: 'profile', email: EXAMPLE_EMAIL, properties: { Example: true } });
  });

  it('names the metrics as the connection does, and gives the same unique_ids every time', () => {
    const a = exampleRecords({ metricNames: { ticketResolved: 'Support Ticket Closed' } }, 1_000);
    const b = exampleRecords({ metricNames: { ticketResolved: 'Support Ticket Closed' } }, 9_000_000);
    expect(a.events.map((e) => e.metric)).toContain('Support Ticket Closed');
    expect(a.events.map((e) => e.metric)).not.toContain('Ticket Resolved');
    expect(a.events.map((e) => e.unique_id)).toEqual(b.events.map((e) => e.unique_id));
  });
});
