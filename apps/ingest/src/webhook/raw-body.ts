import type { Readable } from 'node:stream';

/** 413 for a body over INGEST_BODY_LIMIT_BYTES; Fastify's error handler answers its statusCode and message. */
export class BodyTooLargeError extends Error {
  readonly statusCode = 413;
  readonly code = 'IKS_BODY_TOO_LARGE';

  constructor(limit: number) {
    super(`the body is larger than INGEST_BODY_LIMIT_BYTES (${limit} bytes); it was not stored`);
    this.name = 'BodyTooLargeError';
  }
}

/** How much of a too-large body is read and thrown away before the 413: 4 x the limit, at least 16 MiB. */
export function drainLimitFor(limit: number): number {
  return Math.max(4 * limit, 16 * 1024 * 1024);
}

/**
 * Reads a request body of at most `limit` bytes. A longer one (by its Content-Length or as it
 * streams) is refused with BodyTooLargeError, but only once the sender has sent all of it (read
 * and discarded, up to `drainLimit` bytes): the 413 goes with `Connection: close`, and a server
 * that closes while the client is still sending makes its TCP stack answer the rest with a reset,
 * which "might erase the client's unacknowledged input buffers before they can be read" (RFC 9112
 * §9.6, Tear-down): the client then sees a reset instead of the 413. A body declared (or sent)
 * longer than `drainLimit` is refused at once; INGEST_REQUEST_TIMEOUT_MS bounds the time either way.
 */
export function readBoundedBody(
  payload: Readable,
  contentLength: string | undefined,
  limit: number,
  drainLimit: number,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const declared = contentLength === undefined ? NaN : Number(contentLength);
  if (declared > drainLimit) return done(new BodyTooLargeError(limit));
  let tooLarge = declared > limit;
  let received = 0;
  let chunks: Buffer[] = [];
  let finished = false;
  const finish = (err: Error | null, body?: Buffer) => {
    if (finished) return;
    finished = true;
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    done(err, body);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > drainLimit) return finish(new BodyTooLargeError(limit));
    if (tooLarge || received > limit) {
      tooLarge = true;
      chunks = [];
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () =>
    finish(tooLarge ? new BodyTooLargeError(limit) : null, tooLarge ? undefined : Buffer.concat(chunks, received));
  const onError = (err: Error & { statusCode?: number }) => {
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
    finish(err);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}
