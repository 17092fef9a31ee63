import { Secret } from '@iks/config';
import { startIntercomEmulator, type IntercomEmulator } from '../../../tools/intercom-emulator/src';
import { intercomClientFactory, NoIntercomAccessTokenError } from './intercom-client.factory';

describe("intercomClientFactory: a connection's Intercom client", () => {
  let emu: IntercomEmulator;

  beforeAll(async () => {
    emu = await startIntercomEmulator({
      dataset: { seed: 3, contacts: 2, conversations: 0, tickets: 0 },
      workspaces: [{ appId: 'wsacme', accessTokens: ['tok-acme-factory'] }],
    });
  });
  afterAll(() => emu.close());

  it("reads the connection's workspace at its host with its token and the configured Intercom-Version", async () => {
    const make = intercomClientFactory({ version: '2.11' });
    const acme = make({ id: 'acme', intercom: { accessToken: new Secret('tok-acme-factory'), apiBaseUrl: emu.url } });
    const fallback = make({ intercom: { accessToken: new Secret(emu.accessToken), apiBaseUrl: `${emu.url}/` } });
    expect((await acme.me()).app?.id_code).toBe('wsacme');
    expect((await fallback.me()).app?.id_code).toBe(emu.dataset.appId);
    expect(emu.requests.filter((r) => r.path === '/me').map((r) => [r.appId, r.intercomVersion])).toEqual([
      ['wsacme', '2.11'],
      [emu.dataset.appId, '2.11'],
    ]);
  });

  it('without a token it refuses, naming the connection', () => {
    const make = intercomClientFactory();
    expect(() => make({ id: 'webhooks-only', intercom: { accessToken: null, apiBaseUrl: emu.url } })).toThrow(
      NoIntercomAccessTokenError,
    );
    expect(() => make({ id: 'webhooks-only', intercom: { accessToken: null, apiBaseUrl: emu.url } })).toThrow(
      /connection "webhooks-only" has no Intercom access token/,
    );
  });
});
