import { compressSync, uncompressSync } from 'lz4-napi';

/**
 * LZ4 frames for Kafka's LZ4 record batches (codec 3 of the record batch attributes, KIP-57):
 * the standard LZ4 frame format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md),
 * with the header checksum computed as the format says (Kafka's readers check it on every
 * batch of message format v1 and later; only v0 messages carried the old, wrong one).
 *
 * What Kafka accepts is what its Java client's Lz4BlockInputStream reads (the broker decodes
 * every compressed batch it is sent, to validate its records, with that class): magic
 * 0x184D2204, version 01, independent blocks only, the two reserved FLG bits clear (so no
 * dictionary id), block maximum size 64 KB to 4 MB (BD 4-7), content size allowed (skipped),
 * block checksums allowed (checked), content checksum allowed (read and not checked by 4.1.1,
 * our stack's broker; checked on Kafka's trunk).
 *
 * Written here: independent 1 MB blocks (one per batch), the content size, no checksums (FLG
 * 0x68, BD 0x60; Kafka's producer writes FLG 0x60, BD 0x40: 64 KB blocks, no content size):
 * each block is one lz4-napi `compressSync` call (lz4_flex's block compressor; its output
 * carries a 4-byte size prefix that is dropped), stored uncompressed when LZ4 does not make it
 * smaller, as Kafka does.
 *
 * Read here: any LZ4 frame (and frames one after another, skippable frames between): blocks
 * independent or linked, stored or compressed, block and content checksums verified, content
 * size checked. Compressed blocks are decoded by lz4-napi's block decoder (`uncompressSync`,
 * given the block behind a 4-byte prefix bounding its output: the content size left when the
 * header has it, else the frame's maximum block size or 255 × the block's bytes if smaller);
 * its own frame decoder costs ~10 µs per record on small batches against ~1 µs for this.
 * A frame that needs a dictionary (its id in the header) is refused: Kafka never writes one.
 */

export const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const LEGACY_MAGIC = 0x184c2102;
const STORED_BLOCK = 0x80000000;
/** LZ4's window: a linked block refers back at most this far into what came before. */
const WINDOW = 64 * 1024;

/**
 * The block size this codec writes (BD 6): a produce request is at most 1 MiB
 * (sendInBoundedRequests), so a batch is one block, compressed with the whole 64 KB window
 * behind every record (in 64 KB independent blocks, Kafka's producer's default, each block
 * starts with no history: 100 webhooks compress 11× instead of 17×). Readers allocate a buffer
 * of the maximum block size (Kafka's from a pool it reuses): 1 MB, not 4.
 */
export const LZ4_BLOCK_SIZE = 1024 * 1024;
const FLG_WRITTEN = 0x68; // version 01, independent blocks, content size, no checksums
const BD_WRITTEN = 0x60; // block maximum size 1 MB
const HEADER_LENGTH = 15; // magic, FLG, BD, content size (u64 LE), header checksum

export class Lz4FrameError extends Error {
  constructor(message: string) {
    super(`malformed LZ4 frame: ${message}`);
    this.name = 'Lz4FrameError';
  }
}

// ---------------------------------------------------------------------------------------------
// xxHash32 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), for the header
// checksum and the block and content checksums of frames written by others.

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

/** xxHash32 of `data`, seed 0 unless given, as an unsigned 32-bit number. */
export function xxh32(data: Uint8Array, seed = 0): number {
  const len = data.length;
  const view = new DataView(data.buffer, data.byteOffset, len);
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = len - 16;
    while (i <= limit) {
      v1 = round(v1, view.getUint32(i, true));
      v2 = round(v2, view.getUint32(i + 4, true));
      v3 = round(v3, view.getUint32(i + 8, true));
      v4 = round(v4, view.getUint32(i + 12, true));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + len) | 0;
  while (i + 4 <= len) {
    h = Math.imul(rotl((h + Math.imul(view.getUint32(i, true), P3)) | 0, 17), P4);
    i += 4;
  }
  while (i < len) {
    h = Math.imul(rotl((h + Math.imul(data[i], P5)) | 0, 11), P1);
    i += 1;
  }
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The frame descriptor's checksum byte: the second byte of xxHash32 of FLG through the dictionary id. */
function headerChecksum(descriptor: Uint8Array): number {
  return (xxh32(descriptor) >>> 8) & 0xff;
}

/**
 * `data` as one LZ4 frame that Kafka (and any LZ4 reader) accepts: 1 MB independent blocks, the
 * content size in the header (Kafka skips it; this reader sizes its output by it, exactly).
 */
export function encodeLz4Frame(data: Buffer): Buffer {
  const blocks: { bytes: Buffer; stored: boolean }[] = [];
  let size = HEADER_LENGTH + 4;
  for (let at = 0; at < data.length; at += LZ4_BLOCK_SIZE) {
    const chunk = data.subarray(at, Math.min(at + LZ4_BLOCK_SIZE, data.length));
    // [uncompressed size: u32 LE][LZ4 block]
    const prefixed = compressSync(chunk);
    const stored = prefixed.length - 4 >= chunk.length;
    const bytes = stored ? chunk : prefixed.subarray(4);
    blocks.push({ bytes, stored });
    size += 4 + bytes.length;
  }
  const frame = Buffer.allocUnsafe(size);
  frame.writeUInt32LE(LZ4_FRAME_MAGIC, 0);
  frame[4] = FLG_WRITTEN;
  frame[5] = BD_WRITTEN;
  frame.writeUInt32LE(data.length >>> 0, 6);
  frame.writeUInt32LE(Math.floor(data.length / 0x100000000), 10);
  frame[14] = headerChecksum(frame.subarray(4, 14));
  let at = HEADER_LENGTH;
  for (const { bytes, stored } of blocks) {
    frame.writeUInt32LE(stored ? (bytes.length | STORED_BLOCK) >>> 0 : bytes.length, at);
    bytes.copy(frame, at + 4);
    at += 4 + bytes.length;
  }
  frame.writeUInt32LE(0, at); // end mark
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The bytes of every LZ4 frame in `input` (frames one after another, skippable frames skipped). */
export function decodeLz4Frames(input: Buffer): Buffer {
  if (input.length === 0) throw new Lz4FrameError('no bytes');
  const parts: Buffer[] = [];
  let at = 0;
  while (at < input.length) {
    if (input.length - at < 4) throw new Lz4FrameError(`${input.length - at} stray bytes at offset ${at}`);
    const magic = input.readUInt32LE(at);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (input.length - at < 8) throw new Lz4FrameError(`skippable frame at offset ${at} cut short`);
      const skip = input.readUInt32LE(at + 4);
      if (input.length - at - 8 < skip) throw new Lz4FrameError(`skippable frame at offset ${at} cut short`);
      at += 8 + skip;
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) {
      throw new Lz4FrameError(
        magic === LEGACY_MAGIC
          ? `legacy LZ4 format (magic 0x184c2102) at offset ${at}, not supported`
          : `magic 0x${magic.toString(16).padStart(8, '0')} at offset ${at}, not 0x184d2204`,
      );
    }
    at = decodeFrame(input, at, parts);
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Decodes the frame at `start` into `out`; returns the offset after it. */
function decodeFrame(input: Buffer, start: number, out: Buffer[]): number {
  const need = (at: number, n: number, what: string) => {
    if (input.length - at < n) throw new Lz4FrameError(`cut short in ${what} (offset ${at})`);
  };
  need(start, 7, 'the frame descriptor');
  const flg = input[start + 4];
  const bd = input[start + 5];
  if (flg >>> 6 !== 1) throw new Lz4FrameError(`frame version ${flg >>> 6}, only 1 is defined`);
  if (flg & 0x02) throw new Lz4FrameError('reserved FLG bit 1 set');
  if (bd & 0x8f) throw new Lz4FrameError(`reserved BD bits set (0x${bd.toString(16)})`);
  const blockSizeId = (bd >>> 4) & 0x07;
  if (blockSizeId < 4) throw new Lz4FrameError(`block maximum size id ${blockSizeId}, defined are 4-7`);
  const maxBlock = 1 << (2 * blockSizeId + 8);
  const independent = (flg & 0x20) !== 0;
  const blockChecksums = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const hasDictId = (flg & 0x01) !== 0;
  const descriptorLength = 2 + (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0);
  need(start + 4, descriptorLength + 1, 'the frame descriptor');
  const hc = input[start + 4 + descriptorLength];
  const expectedHc = headerChecksum(input.subarray(start + 4, start + 4 + descriptorLength));
  if (hc !== expectedHc) {
    throw new Lz4FrameError(`header checksum 0x${hc.toString(16)}, expected 0x${expectedHc.toString(16)}`);
  }
  if (hasDictId) throw new Lz4FrameError('the frame needs a dictionary (dictionary id set), none is known');
  const contentSize = hasContentSize ? input.readBigUInt64LE(start + 6) : undefined;
  // what is left to decode, when the header says (a bound for each block's output)
  let left =
    contentSize !== undefined && contentSize <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(contentSize) : undefined;

  const blocks: Buffer[] = [];
  let at = start + 4 + descriptorLength + 1;
  for (;;) {
    need(at, 4, 'a block size');
    const word = input.readUInt32LE(at);
    at += 4;
    if (word === 0) break; // end mark
    const stored = (word & STORED_BLOCK) !== 0;
    const size = word & 0x7fffffff;
    if (size > maxBlock) throw new Lz4FrameError(`block of ${size} bytes, over the frame's maximum ${maxBlock}`);
    need(at, size + (blockChecksums ? 4 : 0), `a block of ${size} bytes`);
    const body = input.subarray(at, at + size);
    at += size;
    if (blockChecksums) {
      if (xxh32(body) !== input.readUInt32LE(at)) throw new Lz4FrameError(`block checksum mismatch (offset ${at})`);
      at += 4;
    }
    // LZ4 writes at most 255 bytes per byte read, so that bounds a block too
    const bound = Math.min(maxBlock, left ?? maxBlock, 255 * size);
    const block = stored ? body : decodeBlock(body, bound, independent ? undefined : windowBefore(blocks));
    blocks.push(block);
    if (left !== undefined) left = Math.max(0, left - block.length);
  }
  const content = blocks.length === 1 ? blocks[0] : Buffer.concat(blocks);
  if (contentChecksum) {
    need(at, 4, 'the content checksum');
    if (xxh32(content) !== input.readUInt32LE(at)) throw new Lz4FrameError('content checksum mismatch');
    at += 4;
  }
  if (contentSize !== undefined && contentSize !== BigInt(content.length)) {
    throw new Lz4FrameError(`${content.length} bytes decoded, the header says ${contentSize}`);
  }
  out.push(content);
  return at;
}

/**
 * lz4-napi's block decoder reads [bound of the decoded size: u32 LE][block] and allocates the
 * bound before decoding (one 2 KB webhook: 3 µs with the exact size, 150 µs with a 4 MB bound).
 */
function decodeBlock(body: Buffer, bound: number, dictionary: Buffer | undefined): Buffer {
  const prefixed = Buffer.allocUnsafe(4 + body.length);
  prefixed.writeUInt32LE(bound, 0);
  body.copy(prefixed, 4);
  try {
    return dictionary ? uncompressSync(prefixed, dictionary) : uncompressSync(prefixed);
  } catch (e) {
    throw new Lz4FrameError(`block does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The last 64 KB decoded before this block (a linked block's dictionary), or nothing at the start. */
function windowBefore(blocks: Buffer[]): Buffer | undefined {
  if (blocks.length === 0) return undefined;
  const last = blocks[blocks.length - 1];
  if (last.length >= WINDOW || blocks.length === 1) return last.subarray(Math.max(0, last.length - WINDOW));
  const tail: Buffer[] = [];
  let length = 0;
  for (let i = blocks.length - 1; i >= 0 && length < WINDOW; i -= 1) {
    tail.unshift(blocks[i]);
    length += blocks[i].length;
  }
  const joined = Buffer.concat(tail);
  return joined.subarray(Math.max(0, joined.length - WINDOW));
}
