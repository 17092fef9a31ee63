import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AvroCodec, SchemaRegistryTimeoutError } from './avro-codec';

/** A registry that takes every request and never answers those `hang` says (the others get `reply`). */
async function registry(hang: (req: IncomingMessage) => boolean) {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    if (hang(req)) return; // accepted, never answered
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(req.url?.startsWith('/config') ? '{"compatibilityLevel":"BACKWARD"}' : '{"id":7}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    seen,
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const SCHEMA = '{"type":"record","name":"R","fields":[]}';
const codecOn = (url: string, timeoutMs: number) =>
  new AvroCodec({ schemaRegistryUrl: url, schemaRegistryAuth: null, topicPrefix: 'p.' }, undefined, timeoutMs);

describe('AvroCodec against a registry that does not answer', () => {
  it('gives a request up after its timeout, sends it three times, then fails naming it (no 300 s wait)', async () => {
    const r = await registry(() => true);
    try {
      const started = Date.now();
      const err = await codecOn(r.url, 200)
        .registerOne('p.klaviyo.events.v1-value', SCHEMA)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaRegistryTimeoutError);
      expect((err as Error).message).toBe(
        'schema registry PUT /config/p.klaviyo.events.v1-value: no answer within 200 ms, 3 tries (SCHEMA_REGISTRY_URL)',
      );
      expect(Date.now() - started).toBeLessThan(3000);
      expect(r.seen).toEqual(Array(3).fill('PUT /config/p.klaviyo.events.v1-value'));
    } finally {
      await r.close();
    }
  });

  it('bounds the registry client’s register call too, and a request answered in time goes through', async () => {
    const r = await registry((req) => req.method === 'POST');
    try {
      const err = await codecOn(r.url, 200)
        .registerOne('p.klaviyo.events.v1-value', SCHEMA)
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /^schema registry register p\.klaviyo\.events\.v1-value: no answer within 200 ms, 3 tries/,
      );
      expect(r.seen[0]).toBe('PUT /config/p.klaviyo.events.v1-value');
      expect(r.seen.filter((s) => s.startsWith('POST /subjects/p.klaviyo.events.v1-value/versions'))).toHaveLength(3);
    } finally {
      await r.close();
    }
    const ok = await registry(() => false);
    try {
      await expect(codecOn(ok.url, 2000).registerOne('p.x-value', SCHEMA)).resolves.toBe(7);
    } finally {
      await ok.close();
    }
  });
});
