/**
 * Issue #19: a signed body over INGEST_BODY_LIMIT_BYTES always gets a readable 413, never a reset
 * (the chaos fuzz, CHAOS_SEED=30885, saw bodies of about 1.2 MB get no answer on the first try).
 */
import { connect } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { testConfig } from '../../../test/support/test-config';
import { createIngestApp } from './ingest.app';
import { sign } from './webhook/signature';

const SECRET = 'intercom-client-secret';

/** A notification of about `size` bytes (padding in the item's title): over the 1 MiB default limit. */
function oversized(size: number): Buffer {
  const head =
    '{"type":"notification_event","app_id":"abc123","id":"notif_big","topic":"conversation.user.created","created_at":1700000000,' +
    '"data":{"type":"notification_event_data","item":{"type":"conversation","id":"1001","title":"';
  return Buffer.from(head + 'x'.repeat(size - head.length - 4) + '"}}}', 'utf8');
}

/**
 * A sender that writes the whole request before it reads anything, as many HTTP clients do, and
 * whose body takes a moment to go out (64 KiB pieces 5 ms apart: ~100 ms for 1.2 MB, as over a
 * real network; on loopback a body written at once would sit whole in the kernel's buffers).
 * Resolves with what it read once the server closed, or rejects with the socket's error: a
 * server that closes while the body is still arriving resets the connection, the answer is lost.
 */
function sendWholeThenRead(port: number, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('error', reject);
    socket.on('end', () => resolve(Buffer.concat(received).toString('utf8')));
    socket.on('connect', async () => {
      socket.pause();
      const write = (b: Buffer | string) =>
        new Promise<void>((ok, fail) => socket.write(b, (e) => (e ? fail(e) : ok())));
      try {
        await write(
          `POST /webhooks/intercom HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
            `x-hub-signature: ${sign(body, SECRET)}\r\ncontent-length: ${body.length}\r\n\r\n`,
        );
        for (let at = 0; at < body.length; at += 64 * 1024) {
          await write(body.subarray(at, at + 64 * 1024));
          await new Promise((r) => setTimeout(r, 5));
        }
      } catch (e) {
        return reject(e);
      }
      socket.on('data', (d: Buffer) => received.push(d));
      socket.resume();
    });
  });
}

describe('ingest: a body over INGEST_BODY_LIMIT_BYTES (1 MiB default)', () => {
  let app: NestFastifyApplication;
  let port: number;

  beforeAll(async () => {
    app = await createIngestApp(testConfig('ingest', { INTERCOM_CLIENT_SECRET: SECRET }), false);
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as { port: number }).port;
  });
  afterAll(async () => app.close());

  it('is answered 413 with its message, read by a sender that sends all ~1.2 MB before reading', async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await sendWholeThenRead(port, oversized(1_200_000 + i * 7919));
      expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(answer).toContain(
        '"message":"the body is larger than INGEST_BODY_LIMIT_BYTES (1048576 bytes); it was not stored"',
      );
    }
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('iks_ingest_webhooks_rejected_total{reason="too_large",app="ingest"} 5');
  });

  it('is answered 413 over fetch too, 20 at once, and a body at the limit is still read whole (not 413)', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await fetch(`http://127.0.0.1:${port}/webhooks/intercom`, {
          method: 'POST',
          body: oversized(1_250_000),
          headers: { 'content-type': 'application/json', 'x-hub-signature': sign(oversized(1_250_000), SECRET) },
        });
        return `${res.status} ${((await res.json()) as { message: string }).message}`;
      }),
    );
    expect(new Set(answers)).toEqual(
      new Set(['413 the body is larger than INGEST_BODY_LIMIT_BYTES (1048576 bytes); it was not stored']),
    );
    // exactly at the limit: read, then refused by its signature (401), not by its size
    const atLimit = oversized(1024 * 1024);
    const res = await fetch(`http://127.0.0.1:${port}/webhooks/intercom`, {
      method: 'POST',
      body: atLimit,
      headers: { 'content-type': 'application/json', 'x-hub-signature': sign(atLimit, 'wrong') },
    });
    expect(res.status).toBe(401);
  });
});
