import { Secret } from '@iks/config';
import { IntercomApiError, type IntercomMe } from '@iks/intercom';
import { KlaviyoApiError } from '@iks/klaviyo';
import { ConnectionProbe, ProbeError, type ProbeClients } from './connection-probe';

const TOKEN = new Secret('tok_never_printed_0123');
const KEY = new Secret('pk_never_printed_0123');

function probe(over: Partial<ProbeClients>): ConnectionProbe {
  return new ConnectionProbe({
    intercomMe: async () =>
      ({ type: 'admin', email: 'a@example.com', app: { id_code: 'ws1', name: 'WS', region: 'Europe' } }) as IntercomMe,
    klaviyoAccounts: async () => ({
      data: [{ type: 'account', id: 'Acct01', attributes: { contact_information: { organization_name: 'Org' } } }],
    }),
    ...over,
  });
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProbeError);
    const m = (e as Error).message;
    expect(m).not.toContain('never_printed');
    return m;
  }
  throw new Error('accepted');
}

describe('ConnectionProbe', () => {
  it('reads the workspace from GET /me and the account from GET /api/accounts', async () => {
    const calls: string[] = [];
    const p = probe({
      intercomMe: async (t, url) => {
        calls.push(`${t.reveal()} ${url}`);
        return { email: 'a@example.com', app: { id_code: 'ws1', name: 'WS', region: 'Europe' } } as IntercomMe;
      },
    });
    expect(await p.intercom(TOKEN, 'https://api.eu.intercom.io')).toEqual({
      appId: 'ws1',
      name: 'WS',
      region: 'Europe',
      admin: 'a@example.com',
    });
    expect(calls).toEqual(['tok_never_printed_0123 https://api.eu.intercom.io']);
    expect(await p.klaviyo(KEY, 'https://a.klaviyo.com')).toEqual({ accountId: 'Acct01', organizationName: 'Org' });
  });

  it('says what the vendor refused, and never the secret', async () => {
    const p = probe({
      intercomMe: async () => {
        throw new IntercomApiError(401, 'unauthorized', 'GET /me: 401 unauthorized Access Token Invalid', false);
      },
      klaviyoAccounts: async () => {
        throw new KlaviyoApiError({
          status: 403,
          code: 'permission_denied',
          detail: 'no scope',
          operation: 'GET /api/accounts',
        });
      },
    });
    expect(await refusal(p.intercom(TOKEN, 'http://x'))).toBe(
      'Intercom refused the access token (401 unauthorized): check it is current and has the scopes the pipeline needs (GET http://x/me)',
    );
    expect(await refusal(p.klaviyo(KEY, 'http://k'))).toMatch(
      /^Klaviyo refused the private key \(403 permission_denied\)/,
    );
    const down = probe({
      intercomMe: async () => {
        throw new IntercomApiError(0, 'network_error', 'GET /me: ECONNREFUSED', true);
      },
    });
    expect(await refusal(down.intercom(TOKEN, 'http://x'))).toBe(
      'Intercom did not confirm the access token: GET /me: ECONNREFUSED (GET http://x/me)',
    );
  });

  it('refuses an answer without a workspace or an account', async () => {
    const p = probe({
      intercomMe: async () => ({ app: null }) as unknown as IntercomMe,
      klaviyoAccounts: async () => ({ data: [] }),
    });
    expect(await refusal(p.intercom(TOKEN, 'http://x'))).toMatch(/answered no workspace \(app.id_code\)/);
    expect(await refusal(p.klaviyo(KEY, 'http://k'))).toMatch(/answered no account/);
  });
});
