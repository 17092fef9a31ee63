import { PassThrough } from 'node:stream';
import { BodyTooLargeError, drainLimitFor, readBoundedBody } from './raw-body';

function read(contentLength: string | undefined, limit: number, drainLimit: number) {
  const stream = new PassThrough();
  let result: { err: Error | null; body?: Buffer } | undefined;
  readBoundedBody(stream, contentLength, limit, drainLimit, (err, body) => (result = { err, body }));
  return { stream, result: () => result };
}

describe('readBoundedBody', () => {
  it('gives the body back byte-exact within the limit', async () => {
    const r = read('5', 5, 100);
    r.stream.end(Buffer.from('héj'));
    await new Promise(setImmediate);
    expect(r.result()).toEqual({ err: null, body: Buffer.from('héj') });
  });

  it('refuses a body declared over the limit only once all of it has arrived (so the 413 is readable)', async () => {
    const r = read('30', 10, 100);
    r.stream.write(Buffer.alloc(20));
    await new Promise(setImmediate);
    expect(r.result()).toBeUndefined(); // still reading what the sender sends
    r.stream.end(Buffer.alloc(10));
    await new Promise(setImmediate);
    expect(r.result()!.err).toBeInstanceOf(BodyTooLargeError);
    expect(r.result()!.err).toMatchObject({
      statusCode: 413,
      message: 'the body is larger than INGEST_BODY_LIMIT_BYTES (10 bytes); it was not stored',
    });
  });

  it('refuses a body without Content-Length that streams past the limit, after its end', async () => {
    const r = read(undefined, 10, 100);
    r.stream.write(Buffer.alloc(8));
    r.stream.write(Buffer.alloc(8));
    await new Promise(setImmediate);
    expect(r.result()).toBeUndefined();
    r.stream.end();
    await new Promise(setImmediate);
    expect(r.result()!.err).toBeInstanceOf(BodyTooLargeError);
  });

  it('refuses at once what it will not read to its end (over the drain bound)', async () => {
    expect(read('101', 10, 100).result()!.err).toBeInstanceOf(BodyTooLargeError);
    const r = read(undefined, 10, 100);
    r.stream.write(Buffer.alloc(101));
    await new Promise(setImmediate);
    expect(r.result()!.err).toBeInstanceOf(BodyTooLargeError);
    expect(drainLimitFor(1024 * 1024)).toBe(16 * 1024 * 1024);
    expect(drainLimitFor(10 * 1024 * 1024)).toBe(40 * 1024 * 1024);
  });

  it('a sender that goes away mid-body is a 400', async () => {
    const r = read('100', 1000, 10_000);
    r.stream.destroy(new Error('aborted'));
    await new Promise(setImmediate);
    expect(r.result()!.err).toMatchObject({ statusCode: 400, message: 'aborted' });
  });
});
