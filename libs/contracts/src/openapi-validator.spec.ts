import { intercomContract, klaviyoContract } from './openapi-validator';

describe('OpenApiValidator', () => {
  it('accepts a real-shaped Intercom admin and rejects a wrong type', () => {
    const ic = intercomContract();
    const admin = {
      type: 'admin',
      id: '991267464',
      name: 'Ciaran Lee',
      email: 'admin@example.com',
      job_title: 'Philosopher',
      away_mode_enabled: false,
      away_mode_reassign: false,
      has_inbox_seat: true,
      team_ids: [814865],
    };
    expect(ic.validateComponent('admin', admin)).toEqual({ valid: true, errors: [] });
    const bad = ic.validateComponent('admin', { ...admin, away_mode_enabled: 'no' });
    expect(bad.valid).toBe(false);
    expect(bad.errors.join()).toMatch(/away_mode_enabled/);
  });

  it('validates Klaviyo request bodies against the operation', () => {
    const k = klaviyoContract('create_event');
    const ok = k.validateRequestBody('post', '/api/events', {
      data: {
        type: 'event',
        attributes: {
          properties: { a: 1 },
          metric: { data: { type: 'metric', attributes: { name: 'Conversation Created' } } },
          profile: { data: { type: 'profile', attributes: { email: 'a@example.com' } } },
          unique_id: 'x',
          time: '2024-01-01T00:00:00Z',
        },
      },
    });
    expect(ok.errors).toEqual([]);
    const bad = k.validateRequestBody('post', '/api/events', { data: { type: 'event', attributes: {} } });
    expect(bad.valid).toBe(false);
  });
});
