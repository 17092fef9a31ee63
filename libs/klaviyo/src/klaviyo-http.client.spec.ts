import { KLAVIYO_REVISION } from '@iks/domain';
import { KlaviyoApiError } from './klaviyo-api.error';
import { KlaviyoHttpClient, parseRetryAfter } from './klaviyo-http.client';
import { klaviyoError, KlaviyoTestDouble } from './__tests__/klaviyo-test-double';

const KEY = 'pk_secret_test_key_123';

describe('KlaviyoHttpClient', () => {
  const klaviyo = new KlaviyoTestDouble();
  let client: KlaviyoHttpClient;
  let baseUrl: string;

  beforeAll(async () => {
    baseUrl = await klaviyo.start();
    client = new KlaviyoHttpClient({ apiKey: KEY, baseUrl, timeoutMs: 2000 });
  });
  afterAll(() => klaviyo.stop());

  it('sends the key, revision and JSON:API headers', async () => {
    klaviyo.next({ status: 202 });
    const res = await client.post('/api/data-privacy-deletion-jobs', { data: {} });
    expect(res.status).toBe(202);
    const h = klaviyo.requests.at(-1)!.headers;
    expect(h.authorization).toBe(`Klaviyo-API-Key ${KEY}`);
    expect(h.revision).toBe(KLAVIYO_REVISION);
    expect(h.accept).toBe('application/vnd.api+json');
    expect(h['content-type']).toBe('application/vnd.api+json');
  });

  it('parses a JSON:API error into KlaviyoApiError; 400 is not retriable; the key never shows', async () => {
    klaviyo.next(klaviyoError(400, 'invalid', `bad value near Klaviyo-API-Key ${KEY}`, '/data/attributes/email'));
    const err = (await client.post('/api/profile-import', {}).catch((e) => e)) as KlaviyoApiError;
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid', pointer: '/data/attributes/email', retriable: false });
    expect(err.message).not.toContain(KEY);
    expect(err.detail).not.toContain(KEY);
    expect(JSON.stringify(err.errors)).not.toContain(KEY);
  });

  it('takes its Authorization header from authorization() at each request (the OAuth seam), and never shows what it sent', async () => {
    let token = 'oauth_token_first_0123';
    const oauth = new KlaviyoHttpClient({ authorization: () => `Bearer ${token}`, baseUrl, timeoutMs: 2000 });
    klaviyo.next({ status: 202 });
    await oauth.post('/api/events', {});
    expect(klaviyo.requests.at(-1)!.headers.authorization).toBe('Bearer oauth_token_first_0123');
    token = 'oauth_token_second_456'; // refreshed
    klaviyo.next(
      klaviyoError(401, 'not_authenticated', 'token oauth_token_second_456 expired; was oauth_token_first_0123'),
    );
    const err = (await oauth.post('/api/events', {}).catch((e) => e)) as KlaviyoApiError;
    expect(klaviyo.requests.at(-1)!.headers.authorization).toBe('Bearer oauth_token_second_456');
    expect(err.detail).toBe('token [REDACTED] expired; was [REDACTED]');
    expect(() => new KlaviyoHttpClient({ baseUrl })).toThrow('apiKey is required');
  });

  it('429 is retriable and carries Retry-After in ms', async () => {
    klaviyo.next({ ...klaviyoError(429, 'throttled', 'Request was throttled.'), headers: { 'retry-after': '7' } });
    const err = (await client.post('/api/events', {}).catch((e) => e)) as KlaviyoApiError;
    expect(err).toMatchObject({ status: 429, retriable: true, retryAfterMs: 7000 });
  });

  it.each([408, 500, 502, 503])('%i is retriable', async (status) => {
    klaviyo.next(klaviyoError(status, 'error', 'try later'));
    await expect(client.post('/api/events', {})).rejects.toMatchObject({ status, retriable: true });
  });

  it.each([401, 403, 404, 409, 413])('%i is not retriable', async (status) => {
    klaviyo.next(klaviyoError(status, 'error', 'no'));
    await expect(client.post('/api/events', {})).rejects.toMatchObject({ status, retriable: false });
  });

  it('a timeout is a retriable error with no status', async () => {
    klaviyo.next({ status: 200, hang: true });
    await expect(client.post('/api/events', {})).rejects.toMatchObject({
      status: null,
      code: 'timeout',
      retriable: true,
    });
  });

  it('a refused connection is a retriable network error', async () => {
    const dead = new KlaviyoHttpClient({ apiKey: KEY, baseUrl: 'http://127.0.0.1:1', timeoutMs: 1000 });
    const err = (await dead.post('/api/events', {}).catch((e) => e)) as KlaviyoApiError;
    expect(err).toMatchObject({ status: null, code: 'network_error', retriable: true });
    expect(err.message).not.toContain(KEY);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});
