import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMapCommand } from './map.command';

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'libs', 'mapping', 'fixtures');
const notification = (name: string) => join(FIXTURES, 'notifications', name);
const DIRECTORY = [
  '--contacts',
  join(FIXTURES, 'contacts.json'),
  '--admins',
  join(FIXTURES, 'admins.json'),
  '--teams',
  join(FIXTURES, 'teams.json'),
  '--tags',
  join(FIXTURES, 'tags.json'),
  '--subscriptions',
  join(FIXTURES, 'subscriptions.json'),
];

async function run(args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runMapCommand(args, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  return { code, stdout, stderr };
}

describe('map command', () => {
  it('prints the Klaviyo event of a ticket resolution', async () => {
    const { code, stdout, stderr } = await run([notification('ticket.resolved.json'), ...DIRECTORY]);
    expect(code).toBe(0);
    expect(stderr).toEqual([]);
    expect(stdout).toHaveLength(1);
    expect(stdout[0]).toBe(
      JSON.stringify({
        kind: 'event',
        metric: 'Ticket Resolved',
        profile: { email: 'grace@example.org' },
        properties: {
          'Contact Email': 'grace@example.org',
          Category: 'Customer',
          'Team Name': 'Billing Support',
          'Admin Name': 'Marta Rossi',
          'Admin Email': 'marta.rossi@support.example.com',
          'Ticket ID': '2189',
          'Ticket Name': 'Refund not received',
          'Ticket Description': 'I returned order A-10023 three weeks ago.',
          'Is Shared': true,
        },
        time: '2025-11-25T16:00:00Z',
        unique_id: 'intercom:ticket:2189:state:resolved:1764086400',
      }),
    );
  });

  it('prints a profile with Klaviyo attributes only', async () => {
    const { code, stdout } = await run([notification('contact.user.created.json'), ...DIRECTORY]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout[0])).toEqual({
      kind: 'profile',
      email: 'ada@example.com',
      phone_number: '+447911123456',
      first_name: 'Ada',
      last_name: 'Lovelace',
      image: 'https://static.intercomassets.com/avatars/6571/square_128/ada.png',
      location: { city: 'London', country: 'United Kingdom', region: 'England' },
      properties: {
        'Intercom Contact ID': '6571f0a1b2c3d4e5f6a7b8c9',
        'Contact Role': 'user',
        Intercom_has_hard_bounced: false,
        Intercom_marked_email_as_spam: false,
        Intercom_unsubscribed_from_emails: false,
        Intercom_opted_in_subscription_types_count: 2,
        Intercom_custom_attributes: { plan: 'pro', seats: 12 },
        Intercom_tags: ['VIP', 'Churn risk'],
      },
    });
  });

  it('prints a deletion', async () => {
    const { code, stdout } = await run([
      notification('contact.deleted.json'),
      '--contacts',
      join(FIXTURES, 'contacts.json'),
    ]);
    expect(code).toBe(0);
    expect(stdout.map((l) => JSON.parse(l))).toEqual([
      {
        kind: 'deletion',
        email: 'ada@example.com',
        phone_number: '+447911123456',
        intercom_contact_id: '6571f0a1b2c3d4e5f6a7b8c9',
      },
    ]);
  });

  it('accepts Intercom list envelopes for the directory files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'map-cmd-'));
    const contacts = readJson(join(FIXTURES, 'contacts.json'));
    writeFileSync(join(dir, 'contacts.json'), JSON.stringify({ type: 'list', data: contacts }));
    writeFileSync(
      join(dir, 'admins.json'),
      JSON.stringify({ type: 'admin.list', admins: readJson(join(FIXTURES, 'admins.json')) }),
    );
    writeFileSync(
      join(dir, 'teams.json'),
      JSON.stringify({ type: 'team.list', teams: readJson(join(FIXTURES, 'teams.json')) }),
    );
    const { code, stdout } = await run([
      notification('conversation.user.created.json'),
      '--contacts',
      join(dir, 'contacts.json'),
      '--admins',
      join(dir, 'admins.json'),
      '--teams',
      join(dir, 'teams.json'),
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout[0])).toMatchObject({
      metric: 'Conversation Created',
      properties: { 'Assigned Team': 'Billing Support', 'Assigned Admin Name': 'Marta Rossi' },
      unique_id: 'intercom:conversation:1911149811:created',
    });
  });

  it('skip: nothing on stdout, the reason on stderr, exit 0', async () => {
    const { code, stdout, stderr } = await run([notification('company.created.json')]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: [], stderr: ['skip: unmapped topic company.created'] });
  });

  it('pending: contact not in the directory', async () => {
    const { code, stdout, stderr } = await run([notification('conversation.read.json')]);
    expect(code).toBe(0);
    expect(stdout).toEqual([]);
    expect(stderr).toEqual([
      'pending: contact 6571f0a1b2c3d4e5f6a7b8c9 unknown to directory (contact 6571f0a1b2c3d4e5f6a7b8c9)',
    ]);
  });

  it('--phone-region makes a national phone E.164', async () => {
    const { code, stdout, stderr } = await run([
      notification('contact.lead.created.json'),
      ...DIRECTORY,
      '--phone-region',
      'AU',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout[0])).toMatchObject({ kind: 'profile', phone_number: '+61412345678' });
    expect(stderr).toEqual([]);
  });

  it('notes (a dropped phone) go to stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'map-cmd-'));
    const file = join(dir, 'contact.lead.updated.json');
    const body = readJson(notification('contact.lead.created.json')) as { data: { item: Record<string, unknown> } };
    writeFileSync(
      file,
      JSON.stringify({
        ...body,
        topic: 'contact.lead.updated',
        data: { ...body.data, item: { ...body.data.item, email: 'bob@example.com' } },
      }),
    );
    const { code, stdout, stderr } = await run([file]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout[0])).toMatchObject({ kind: 'profile', email: 'bob@example.com' });
    expect(JSON.parse(stdout[0])).not.toHaveProperty('phone_number');
    expect(stderr).toEqual(['note: phone_not_e164']);
  });

  it('missing argument → exit 2 with usage', async () => {
    const { code, stderr } = await run([]);
    expect(code).toBe(2);
    expect(stderr.join('\n')).toMatch(/missing <notification.json>/);
  });

  it('unknown option or option without value → exit 2', async () => {
    expect((await run([notification('ticket.created.json'), '--frobnicate'])).code).toBe(2);
    expect((await run([notification('ticket.created.json'), '--contacts'])).code).toBe(2);
  });

  it('unreadable file → exit 2 naming the file', async () => {
    const { code, stderr } = await run(['/nonexistent/notification.json']);
    expect(code).toBe(2);
    expect(stderr.join('\n')).toMatch(/cannot read \/nonexistent\/notification\.json/);
  });

  it('invalid JSON in a directory file → exit 2 naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'map-cmd-'));
    const bad = join(dir, 'admins.json');
    writeFileSync(bad, '[{"id": "1",');
    const { code, stdout, stderr } = await run([notification('ticket.created.json'), '--admins', bad]);
    expect(code).toBe(2);
    expect(stdout).toEqual([]);
    expect(stderr.join('\n')).toContain(`invalid JSON in ${bad}`);
  });

  it('a directory file of the wrong shape → exit 2 naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'map-cmd-'));
    const bad = join(dir, 'teams.json');
    writeFileSync(bad, '{"teams": "none"}');
    const { code, stderr } = await run([notification('ticket.created.json'), '--teams', bad]);
    expect(code).toBe(2);
    expect(stderr.join('\n')).toContain(bad);
  });

  it('a notification that cannot be mapped → exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'map-cmd-'));
    const bad = join(dir, 'n.json');
    writeFileSync(
      bad,
      JSON.stringify({
        type: 'notification_event',
        id: 'notif_x',
        topic: 'ticket.created',
        created_at: 1764000000,
        data: { type: 'notification_event_data' },
      }),
    );
    const { code, stderr } = await run([bad]);
    expect(code).toBe(1);
    expect(stderr.join('\n')).toMatch(/cannot map: notification data.item is missing/);
  });
});
