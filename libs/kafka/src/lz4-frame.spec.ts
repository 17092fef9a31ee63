import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import {
  conversationLifecycle,
  createRng,
  makeAdmin,
  makeContact,
  makeTeam,
} from '../../../tools/intercom-emulator/src';
import './kafka-client'; // registers the codecs
import { decodeLz4Frames, encodeLz4Frame, LZ4_BLOCK_SIZE, Lz4FrameError, xxh32 } from './lz4-frame';

/** Byte equality without jest's element-by-element diff of large buffers. */
function expectBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

/** Real-shaped webhook JSON: the Intercom emulator's conversation lifecycles, one after another. */
function webhookJson(records: number): Buffer {
  const admin = makeAdmin({ name: 'Spec Admin' });
  const team = makeTeam({ name: 'Support' });
  const bodies: string[] = [];
  for (let c = 0; bodies.length < records; c += 1) {
    const contact = makeContact({}, createRng(c + 1));
    for (const n of conversationLifecycle({ contact, admin, team, startAt: 1_765_000_000, seed: c, id: String(c) })) {
      bodies.push(JSON.stringify(n));
    }
  }
  return Buffer.from(bodies.slice(0, records).join(''));
}

/**
 * 92,389 bytes: 60 numbered copies of 1,536 pseudo-random printable bytes; the frames below are
 * lz4 1.9.4's (the reference command line tool) of exactly these bytes, so a linked block's
 * copies reach back into the block before it.
 */
function fixtureContent(): Buffer {
  let x = 12345;
  const seg = Buffer.alloc(1536);
  for (let i = 0; i < seg.length; i += 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    seg[i] = 32 + ((x >>> 24) % 95);
  }
  const text = seg.toString('latin1');
  return Buffer.from(Array.from({ length: 60 }, (_, i) => `${i}:${text}`).join('\n'), 'latin1');
}
/** `lz4 -B4 -BD --no-frame-crc`: 64 KB linked blocks (FLG 0x40), no checksums. */
const LZ4_CLI_LINKED = Buffer.from(
  [
    'BCJNGEBAwLAHAAD////////6MDo1aDgtJF4vcEBwKldGciY/SHxkMmB6ez5rejx+VyIlJS4/ZyNzWHJ7R15McjxRL2Y7NHMrb0Nw',
    'T2dwM0gpSzkzZl5xLFpHUC86R3gqIjtVbUE+TDd5Jj8jVUB2JT4zVTV5LyFVJCAmRVE7emBAPWU6OC4xXFJnYFdQJ0R8XW53UEY1',
    'cH5ob0E0dExHV1o1c1dHOlc4NiFwXkgjaTA1UC4sPTQqZC1+N2tWQiAyLEsnYEIzdkkuJ0RkMip7NWFHUCNYS1xEQ1ROPU9+UkR3',
    'eCw1LmRdR1QyUlowTj9oLl1FMj9wSTYiL1VvMEZaQyxUQC90dFxFaE4iYzc/YV1QXD5UQl56J3dPR0wrMTtHZXNHIG9JMzd6ZiVp',
    'QUUjXyphOTVDImQudGwvNCV+RldKJ1UgIkFwS0VGN2l0LEhARm9dS20uLFBbXEAmRl93YU07K1VgW2tFTU1FIUZTRCMhXH59OEld',
    'VDlwe3lNYz0oTzoyMCZrTEwlWiZpMnpWbj4jIFVCW1U8YjlJJj87aS98JyEuWmc/IGlrelQrfE1BT3VOUz1IOis+eWZDLS8gNUlC',
    'XXMwICM+KTlPMCYxXjcyPyNZQklAWT89cld0IytRPGUzIU5gYGFWdF9vRS0tR29PI2I8WkE7O0RhL0FYaHhBLiJMIFArOzVsMlVa',
    'ekkmW0g/JFdQTkhgKS1URSl8QTZQKyg5dGNedk1ZRl9JLkNbLHUzWGFXbCBpfmMkc3ZUIlYnayRMNVRQQDNFfFolKXZbTX0qVUJx',
    'fVkoPm4pVX52NU9CMDJcS2lHSEwoOGFfay89Tj5eXkBCSCxAOnxFRXRuVlJ3QntidkIudD9bPy1+IWNvfToieWcjN3tvWTUpZitK',
    'YkctRF51amhScCIuTmA+MkAybXp+UndAKEBIMCZGJ3UzcWEwOi9aZVQvRENBbnpfI3h4WGZwKCpsSTF7WzMlJSZWUCssOyY/SCQ0',
    'RHpwP25xOlJWa0N3ZFs3cFNaQDlyb2V9SG9cOTw3PDw/Mn1vUSVlUmBATWIvcnlIXzInWCUlV01HUH4gTmR1Ty5zWDBoTHxNLzAn',
    'Ik55eG1QV05TUjttYjR6XkVSblYsfkxpfjo6KCokZ25MN09+VUFRa1VYPDtUTnlBLFMyMTw+ZnB3XXhfeE5tMnRNSyU0PkQ7aF5U',
    'XiAwb1xQZCwmXS1iLTFxUUdcSkZKJVlEV1Q8cUwxQiJ+V3FgKm5NaUNIW2I3PEQhbHl4LDZmcCwgXj9ZMlEibjBHbkZUXjo/QVI7',
    'PiNFbW5KajNfT2I9UyA5MDJzIk01VEFrWjRXIjpgU3NyQV1yUUktMzQpOmsgYkRLNF5eQ0paSkFRS2EvXHJYM09lY0ZBOlUjWy5m',
    'Ojs7PFVQKnojKDdkLn0nby8xNEk2RTA/JTJ7Ml5mV0ZuKE17YVRGRkh9UHI/S0NFI1VKNEFBcC43Tzt3RH0jST5FJlYrSmBsbXhX',
    'UUwgRmU3Ji00bCs+SXNpTG0jTFhnKSlhe313N3hBY0o2PSMhMjx7Nyw0Qz1FOCczdjZNVig8KyJeTl1aTnQhMXVeOFIkWUo4WERu',
    'QDpVZj1aZSl+OEtfWiF9W0AsLjVCYGxWJTQ5IShLNmREMmAsaVBhMSIgYXNoK3koKDBfOzsidHhvVVVMSV1sP3VYQjJbN0tBXVop',
    'MVdePVomU0BOSWQpNFRaV3ZMWDYwZlVrLCYkaC5WSWEhPDdOJzFJV18paEh6IEgxYEpLUWlZSldyKihVYUIjbz82LTk2NEV6JHpP',
    'YVVta1tNbjshNFhSMnAxUk9IJEArMFhWQjchTiYnM1RqcCUmZjkrK1s7Qi0rNDEra2hmcDMrWiUxTncvJnMsM01PWDhEOUFbQkE5',
    'cCpjLDd+ZkIjcGUgJVhbI0w1LW9bMnNlfHokXERcQ25MNSFUfXB+OH5hdT4+XTxbSTBYM10+ODQsc2g1YUVBIk5NS0M4Ni1+KiRG',
    'cFZrKkM/Sy02JTQ4fjYuVmxgYG84RW9BfmMsai9oSkBBMFt9R2d8ZmZATkYmTktwVDI4REtUczgKMQMG///////0HzIGDP//////',
    '9B8zAwb///////QfNAMG///////0HzUDBv//////9B82Awb///////QfNwMG///////0HzgDBv//////9B85Awb///////QfMR88',
    '///////2HzEIDP//////9Q8hPP//////9R8xIjz///////UfMSM8///////1HzEkPP//////9R8xJTz///////UfMSY8///////1',
    'HzEnPP//////9R8xKDz///////UfMig8///////1HzIoPP//////9R8yKDz///////UfMig8///////1HzIoPP//////9R8yKDz/',
    '//////UfMig8///////1HzIoPP//////9R8yKDz///////UfMig8///////1HzMoPP//////9R8zKDz///////UfMyg8///////1',
    'HzMoPP//////9R8zKDz///////UfMyg8///////1HzMoPP//////9R8zKDz///////UfMyg8///////1HzMoPP//////9R80KDz/',
    '//////UfNCg8///////1HzQoPP///0xQPmZwd122AAAAD5/8//+RHzQoPP//////9R80KDz///////UfNCg8///////1HzQoPP//',
    '////9R80KDz///////UfNCg8///////1HzQoPP//////9R81KDz///////UfNSg8///////1HzUoPP//////9R81KDz///////Uf',
    'NSg8///////1HzUoPP//////9R81KDz///////UfNSg8///////1HzUoPP//////9R81KDz//////+9QREtUczgAAAAA',
  ].join(''),
  'base64',
);
/** `lz4 -B4 -BX --content-size`: independent blocks, block checksums, content size and checksum (FLG 0x7c). */
const LZ4_CLI_CHECKED = Buffer.from(
  [
    'BCJNGHxA5WgBAAAAAAAusAcAAP////////owOjVoOC0kXi9wQHAqV0ZyJj9IfGQyYHp7Pmt6PH5XIiUlLj9nI3NYcntHXkxyPFEv',
    'Zjs0cytvQ3BPZ3AzSClLOTNmXnEsWkdQLzpHeCoiO1VtQT5MN3kmPyNVQHYlPjNVNXkvIVUkICZFUTt6YEA9ZTo4LjFcUmdgV1An',
    'RHxdbndQRjVwfmhvQTR0TEdXWjVzV0c6Vzg2IXBeSCNpMDVQLiw9NCpkLX43a1ZCIDIsSydgQjN2SS4nRGQyKns1YUdQI1hLXERD',
    'VE49T35SRHd4LDUuZF1HVDJSWjBOP2guXUUyP3BJNiIvVW8wRlpDLFRAL3R0XEVoTiJjNz9hXVBcPlRCXnond09HTCsxO0dlc0cg',
    'b0kzN3pmJWlBRSNfKmE5NUMiZC50bC80JX5GV0onVSAiQXBLRUY3aXQsSEBGb11LbS4sUFtcQCZGX3dhTTsrVWBba0VNTUUhRlNE',
    'IyFcfn04SV1UOXB7eU1jPShPOjIwJmtMTCVaJmkyelZuPiMgVUJbVTxiOUkmPztpL3wnIS5aZz8gaWt6VCt8TUFPdU5TPUg6Kz55',
    'ZkMtLyA1SUJdczAgIz4pOU8wJjFeNzI/I1lCSUBZPz1yV3QjK1E8ZTMhTmBgYVZ0X29FLS1Hb08jYjxaQTs7RGEvQVhoeEEuIkwg',
    'UCs7NWwyVVp6SSZbSD8kV1BOSGApLVRFKXxBNlArKDl0Y152TVlGX0kuQ1ssdTNYYVdsIGl+YyRzdlQiVidrJEw1VFBAM0V8WiUp',
    'dltNfSpVQnF9WSg+bilVfnY1T0IwMlxLaUdITCg4YV9rLz1OPl5eQEJILEA6fEVFdG5WUndCe2J2Qi50P1s/LX4hY299OiJ5ZyM3',
    'e29ZNSlmK0piRy1EXnVqaFJwIi5OYD4yQDJten5Sd0AoQEgwJkYndTNxYTA6L1plVC9EQ0Fuel8jeHhYZnAoKmxJMXtbMyUlJlZQ',
    'Kyw7Jj9IJDREenA/bnE6UlZrQ3dkWzdwU1pAOXJvZX1Ib1w5PDc8PD8yfW9RJWVSYEBNYi9yeUhfMidYJSVXTUdQfiBOZHVPLnNY',
    'MGhMfE0vMCciTnl4bVBXTlNSO21iNHpeRVJuVix+TGl+OjooKiRnbkw3T35VQVFrVVg8O1ROeUEsUzIxPD5mcHddeF94Tm0ydE1L',
    'JTQ+RDtoXlReIDBvXFBkLCZdLWItMXFRR1xKRkolWURXVDxxTDFCIn5XcWAqbk1pQ0hbYjc8RCFseXgsNmZwLCBeP1kyUSJuMEdu',
    'RlReOj9BUjs+I0VtbkpqM19PYj1TIDkwMnMiTTVUQWtaNFciOmBTc3JBXXJRSS0zNCk6ayBiREs0Xl5DSlpKQVFLYS9cclgzT2Vj',
    'RkE6VSNbLmY6Ozs8VVAqeiMoN2QufSdvLzE0STZFMD8lMnsyXmZXRm4oTXthVEZGSH1Qcj9LQ0UjVUo0QUFwLjdPO3dEfSNJPkUm',
    'VitKYGxteFdRTCBGZTcmLTRsKz5Jc2lMbSNMWGcpKWF7fXc3eEFjSjY9IyEyPHs3LDRDPUU4JzN2Nk1WKDwrIl5OXVpOdCExdV44',
    'UiRZSjhYRG5AOlVmPVplKX44S19aIX1bQCwuNUJgbFYlNDkhKEs2ZEQyYCxpUGExIiBhc2greSgoMF87OyJ0eG9VVUxJXWw/dVhC',
    'Mls3S0FdWikxV149WiZTQE5JZCk0VFpXdkxYNjBmVWssJiRoLlZJYSE8N04nMUlXXyloSHogSDFgSktRaVlKV3IqKFVhQiNvPzYt',
    'OTY0RXokek9hVW1rW01uOyE0WFIycDFST0gkQCswWFZCNyFOJiczVGpwJSZmOSsrWztCLSs0MStraGZwMytaJTFOdy8mcywzTU9Y',
    'OEQ5QVtCQTlwKmMsN35mQiNwZSAlWFsjTDUtb1syc2V8eiRcRFxDbkw1IVR9cH44fmF1Pj5dPFtJMFgzXT44NCxzaDVhRUEiTk1L',
    'Qzg2LX4qJEZwVmsqQz9LLTYlNDh+Ni5WbGBgbzhFb0F+YyxqL2hKQEEwW31HZ3xmZkBORiZOS3BUMjhES1RzOAoxAwb///////Qf',
    'MgYM///////0HzMDBv//////9B80Awb///////QfNQMG///////0HzYDBv//////9B83Awb///////QfOAMG///////0HzkDBv//',
    '////9B8xHzz///////YfMQgM///////1DyE8///////1HzEiPP//////9R8xIzz///////UfMSQ8///////1HzElPP//////9R8x',
    'Jjz///////UfMSc8///////1HzEoPP//////9R8yKDz///////UfMig8///////1HzIoPP//////9R8yKDz///////UfMig8////',
    '///1HzIoPP//////9R8yKDz///////UfMig8///////1HzIoPP//////9R8yKDz///////UfMyg8///////1HzMoPP//////9R8z',
    'KDz///////UfMyg8///////1HzMoPP//////9R8zKDz///////UfMyg8///////1HzMoPP//////9R8zKDz///////UfMyg8////',
    '///1HzQoPP//////9R80KDz///////UfNCg8////TFA+ZnB3XdDTM6G2BgAA////////+nhfeE5tMnRNSyU0PkQ7aF5UXiAwb1xQ',
    'ZCwmXS1iLTFxUUdcSkZKJVlEV1Q8cUwxQiJ+V3FgKm5NaUNIW2I3PEQhbHl4LDZmcCwgXj9ZMlEibjBHbkZUXjo/QVI7PiNFbW5K',
    'ajNfT2I9UyA5MDJzIk01VEFrWjRXIjpgU3NyQV1yUUktMzQpOmsgYkRLNF5eQ0paSkFRS2EvXHJYM09lY0ZBOlUjWy5mOjs7PFVQ',
    'KnojKDdkLn0nby8xNEk2RTA/JTJ7Ml5mV0ZuKE17YVRGRkh9UHI/S0NFI1VKNEFBcC43Tzt3RH0jST5FJlYrSmBsbXhXUUwgRmU3',
    'Ji00bCs+SXNpTG0jTFhnKSlhe313N3hBY0o2PSMhMjx7Nyw0Qz1FOCczdjZNVig8KyJeTl1aTnQhMXVeOFIkWUo4WERuQDpVZj1a',
    'ZSl+OEtfWiF9W0AsLjVCYGxWJTQ5IShLNmREMmAsaVBhMSIgYXNoK3koKDBfOzsidHhvVVVMSV1sP3VYQjJbN0tBXVopMVdePVom',
    'U0BOSWQpNFRaV3ZMWDYwZlVrLCYkaC5WSWEhPDdOJzFJV18paEh6IEgxYEpLUWlZSldyKihVYUIjbz82LTk2NEV6JHpPYVVta1tN',
    'bjshNFhSMnAxUk9IJEArMFhWQjchTiYnM1RqcCUmZjkrK1s7Qi0rNDEra2hmcDMrWiUxTncvJnMsM01PWDhEOUFbQkE5cCpjLDd+',
    'ZkIjcGUgJVhbI0w1LW9bMnNlfHokXERcQ25MNSFUfXB+OH5hdT4+XTxbSTBYM10+ODQsc2g1YUVBIk5NS0M4Ni1+KiRGcFZrKkM/',
    'Sy02JTQ4fjYuVmxgYG84RW9BfmMsai9oSkBBMFt9R2d8ZmZATkYmTktwVDI4REtUczgKNDM6NWg4LSReL3BAcCpXRnImP0h8ZDJg',
    'ens+a3o8flciJSUuP2cjc1hye0deTHI8US9mOzRzK29DcE9ncDNIKUs5M2ZecSxaR1AvOkd4KiI7VW1BPkw3eSY/I1VAdiU+M1U1',
    'eS8hVSQgJkVRO3pgQD1lOjguMVxSZ2BXUCdEfF1ud1BGNXB+aG9BNHRMR1daNXNXRzpXODYhcF5II2kwNVAuLD00KmQtfjdrVkIg',
    'MixLJ2BCM3ZJLidEZDIqezVhR1AjWEtcRENUTj1PflJEd3gsNS5kXUdUMlJaME4/aC5dRTI/cEk2Ii9VbzBGWkMsVEAvdHRcRWhO',
    'ImM3P2FdUFw+VEJeeid3T0dMKzE7R2VzRyBvSTM3emYlaUFFI18qYTk1QyJkLnRsLzQlfkZXSidVICJBcEtFRjdpdCxIQEZvXUtt',
    'LixQW1xAJkZfd2FNOytVYFtrRU1NRSFGU0QjIVx+fThJXVQ5cHt5TWM9KE86MjAma0xMJVomaTJ6Vm4+IyBVQltVPGI5SSY/O2kv',
    'fCchLlpnPyBpa3pUK3xNQU91TlM9SDorPnlmQy0vIDVJQl1zMCAjPik5TzAmMV43Mj8jWUJJQFk/PXJXdCMrUTxlMyFOYGBhVnRf',
    'b0UtLUdvTyNiPFpBOztEYS9BWGh4QS4iTCBQKzs1bDJVWnpJJltIPyRXUE5IYCktVEUpfEE2UCsoOXRjXnZNWUZfSS5DWyx1M1hh',
    'V2wgaX5jJHN2VCJWJ2skTDVUUEAzRXxaJSl2W019KlVCcX1ZKD5uKVV+djVPQjAyXEtpR0hMKDhhX2svPU4+Xl5AQkgsQDp8RUV0',
    'blZSd0J7YnZCLnQ/Wz8tfiFjb306InlnIzd7b1k1KWYrSmJHLURedWpoUnAiLk5gPjJAMm16flJ3QChASDAmRid1M3FhMDovWmVU',
    'L0RDQW56XyN4eFhmcCgqbEkxe1szJSUmVlArLDsmP0gkNER6cD9ucTpSVmtDd2RbN3BTWkA5cm9lfUhvXDk8Nzw8PzJ9b1ElZVJg',
    'QE1iL3J5SF8yJ1glJVdNR1B+IE5kdU8uc1gwaEx8TS8wJyJOeXhtUFdOU1I7bWI0el5FUm5WLH5MaX46OigqJGduTDdPflVBUWtV',
    'WDw7VE55QSxTMjE8PmZwd10EBv//kh80BAb///////UfNQQG///////1HzYEBv//////9R83BAb///////UfOAQG///////1HzkE',
    'Bv//////9C81MAQG///////1HzEEBv//////9R8yBAb///////UfMwQG///////1Dyg8///////1HzUoPP//////9R81KDz/////',
    '//UfNSg8///////1HzUoPP//////9R81KDz//////+9QREtUczhCyP/8AAAAAH5ZRhg=',
  ].join(''),
  'base64',
);

/** A frame put together by hand from its parts (header checksum computed unless given). */
function frame(opts: {
  flg?: number;
  bd?: number;
  contentSize?: bigint;
  blocks: { bytes: Buffer; stored?: boolean; checksum?: number }[];
  contentChecksum?: number;
  hc?: number;
}): Buffer {
  const flg = opts.flg ?? 0x60;
  const descriptor = [Buffer.from([flg, opts.bd ?? 0x40])];
  if (opts.contentSize !== undefined) {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(opts.contentSize);
    descriptor.push(size);
  }
  const desc = Buffer.concat(descriptor);
  const parts: Buffer[] = [
    Buffer.from([0x04, 0x22, 0x4d, 0x18]),
    desc,
    Buffer.from([opts.hc ?? (xxh32(desc) >>> 8) & 0xff]),
  ];
  for (const b of opts.blocks) {
    const word = Buffer.alloc(4);
    word.writeUInt32LE((b.bytes.length | (b.stored ? 0x80000000 : 0)) >>> 0);
    parts.push(word, b.bytes);
    if (b.checksum !== undefined) {
      const sum = Buffer.alloc(4);
      sum.writeUInt32LE(b.checksum);
      parts.push(sum);
    }
  }
  parts.push(Buffer.alloc(4));
  if (opts.contentChecksum !== undefined) {
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE(opts.contentChecksum);
    parts.push(sum);
  }
  return Buffer.concat(parts);
}

describe('xxh32', () => {
  it('gives the reference values', () => {
    // XXH32 of xxHash's own test suite and sanity checks, seed 0 and 1
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxh32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
    expect(xxh32(Buffer.alloc(0), 1)).toBe(0x0b2cb792);
  });

  it('agrees with the checksums of frames lz4-napi writes, at every length around its 16-byte stripes', () => {
    for (let n = 0; n < 70; n += 1) {
      const data = randomBytes(n);
      // content checksum = xxh32 of the content; lz4-napi's frame reader checks it too
      const f = compressFrameSync(data, { contentChecksum: true });
      expect(f.readUInt32LE(f.length - 4)).toBe(xxh32(data));
    }
  });
});

describe('encodeLz4Frame', () => {
  it('writes a frame Kafka reads: magic, FLG 0x68 (version 1, independent blocks, content size), BD 0x60 (1 MB), the header checksum', () => {
    const data = Buffer.from('hello hello hello hello');
    const f = encodeLz4Frame(data);
    expect([...f.subarray(0, 6)]).toEqual([0x04, 0x22, 0x4d, 0x18, 0x68, 0x60]);
    expect(f.readBigUInt64LE(6)).toBe(BigInt(data.length));
    expect(f[14]).toBe((xxh32(f.subarray(4, 14)) >>> 8) & 0xff);
    expect(f.readUInt32LE(f.length - 4)).toBe(0); // end mark, no content checksum
    // Kafka's Lz4BlockOutputStream's descriptor (FLG 0x60, BD 0x40) gets 0x82, as Kafka writes it
    expect((xxh32(Buffer.from([0x60, 0x40])) >>> 8) & 0xff).toBe(0x82);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['one webhook', webhookJson(1)],
    ['16 webhooks', webhookJson(16)],
    ['100 webhooks (several blocks)', webhookJson(100)],
    ['exactly one block', Buffer.alloc(LZ4_BLOCK_SIZE, 'ab')],
    ['one block and a byte', Buffer.alloc(LZ4_BLOCK_SIZE + 1, 'abc')],
    ['incompressible (stored blocks)', randomBytes(3 * LZ4_BLOCK_SIZE + 17)],
  ])('round-trips %s, and lz4-napi reads it too', (_name, data) => {
    const f = encodeLz4Frame(data);
    expectBytes(decodeLz4Frames(f), data);
    expectBytes(decompressFrameSync(f), data);
  });

  it('splits into 1 MB blocks, stores a block LZ4 does not shrink', () => {
    expect(LZ4_BLOCK_SIZE).toBe(1024 * 1024);
    const data = Buffer.concat([randomBytes(LZ4_BLOCK_SIZE), Buffer.alloc(100, 'z')]);
    const f = encodeLz4Frame(data);
    const first = f.readUInt32LE(15);
    expect(first).toBe((0x80000000 | LZ4_BLOCK_SIZE) >>> 0); // stored, as it is
    const second = f.readUInt32LE(19 + LZ4_BLOCK_SIZE);
    expect(second & 0x80000000).toBe(0);
    expect(second).toBeLessThan(100);
    expect(f.length).toBe(15 + 4 + LZ4_BLOCK_SIZE + 4 + second + 4);
  });

  it('one block per batch: 100 webhooks (290 KB) compress about 15×, against about 11× in 64 KB blocks', () => {
    const data = webhookJson(100);
    const f = encodeLz4Frame(data);
    expect(f.readUInt32LE(15)).toBe(f.length - 15 - 4 - 4); // one block, then the end mark
    expect(data.length / f.length).toBeGreaterThan(13);
  });
});

describe('decodeLz4Frames: frames from other encoders', () => {
  const content = fixtureContent();

  it("reads lz4's linked blocks (the second needs the first as its dictionary)", () => {
    expect(LZ4_CLI_LINKED[4]).toBe(0x40);
    expectBytes(decodeLz4Frames(LZ4_CLI_LINKED), content);
  });

  it("reads lz4's block checksums, content size and content checksum, and checks them", () => {
    expect(LZ4_CLI_CHECKED[4]).toBe(0x7c);
    expectBytes(decodeLz4Frames(LZ4_CLI_CHECKED), content);
    const badContentSum = Buffer.from(LZ4_CLI_CHECKED);
    badContentSum[badContentSum.length - 1] ^= 1;
    expect(() => decodeLz4Frames(badContentSum)).toThrow('content checksum mismatch');
    const badBlock = Buffer.from(LZ4_CLI_CHECKED);
    badBlock[30] ^= 1; // inside the first block
    expect(() => decodeLz4Frames(badBlock)).toThrow('block checksum mismatch');
  });

  it.each([
    ['defaults', {}],
    ['block and content checksums', { blockChecksums: true, contentChecksum: true }],
  ])('reads lz4-napi frames (%s; block size chosen by input size, up to 4 MB)', (_name, options) => {
    for (const data of [Buffer.from('x'), webhookJson(4), webhookJson(100), randomBytes(300_000)]) {
      expectBytes(decodeLz4Frames(compressFrameSync(data, options)), data);
    }
  });

  it('reads hand-made frames: stored blocks, block checksums, content size, empty content', () => {
    const a = Buffer.from('stored as it is, ');
    const b = Buffer.from('and again: stored as it is');
    expect(
      decodeLz4Frames(
        frame({
          blocks: [
            { bytes: a, stored: true },
            { bytes: b, stored: true },
          ],
        }),
      ),
    ).toEqual(Buffer.concat([a, b]));
    const checked = frame({
      flg: 0x60 | 0x10 | 0x08 | 0x04,
      contentSize: BigInt(a.length),
      blocks: [{ bytes: a, stored: true, checksum: xxh32(a) }],
      contentChecksum: xxh32(a),
    });
    expect(decodeLz4Frames(checked)).toEqual(a);
    expect(decodeLz4Frames(frame({ blocks: [] }))).toEqual(Buffer.alloc(0));
  });

  it('reads blocks that expand about 255× (the output bound of a frame without content size)', () => {
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    const f = compressFrameSync(zeros);
    expect(f.length).toBeLessThan(zeros.length / 200);
    expectBytes(decodeLz4Frames(f), zeros);
    const ones = Buffer.alloc(300_000, 1);
    expectBytes(decodeLz4Frames(compressFrameSync(ones)), ones);
  });

  it('reads frames one after another, and skips skippable frames', () => {
    const skippable = Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('abc')]);
    const joined = Buffer.concat([
      encodeLz4Frame(Buffer.from('one, ')),
      skippable,
      compressFrameSync(Buffer.from('two')),
    ]);
    expect(decodeLz4Frames(joined).toString()).toBe('one, two');
  });
});

describe('decodeLz4Frames: malformed input is refused with a clear error', () => {
  const good = encodeLz4Frame(webhookJson(4));

  it.each<[string, Buffer, string]>([
    ['no bytes', Buffer.alloc(0), 'no bytes'],
    ['another magic', Buffer.from('{"json":true}'), 'magic 0x736a227b at offset 0, not 0x184d2204'],
    ['the legacy format', Buffer.from([0x02, 0x21, 0x4c, 0x18, 0, 0, 0, 0]), 'legacy LZ4 format'],
    ['a wrong header checksum', frame({ hc: 0x00, blocks: [] }), 'header checksum 0x0, expected 0x82'],
    ['version 0', frame({ flg: 0x20, blocks: [] }), 'frame version 0'],
    ['reserved FLG bit', frame({ flg: 0x62, blocks: [] }), 'reserved FLG bit 1 set'],
    ['reserved BD bits', frame({ bd: 0x41, blocks: [] }), 'reserved BD bits set'],
    ['block size id 3', frame({ bd: 0x30, blocks: [] }), 'block maximum size id 3'],
    [
      'a block over the maximum',
      frame({ blocks: [{ bytes: Buffer.alloc(64 * 1024 + 1), stored: true }] }),
      'block of 65537 bytes, over the frame',
    ],
    ['no end mark', good.subarray(0, good.length - 4), 'cut short in a block size'],
    ['bytes after the end mark', Buffer.concat([good, Buffer.from([1, 2, 3])]), '3 stray bytes at offset'],
    [
      'a content size that does not match',
      frame({ flg: 0x68, contentSize: 5n, blocks: [{ bytes: Buffer.from('four'), stored: true }] }),
      '4 bytes decoded, the header says 5',
    ],
    ['a block that is not LZ4', frame({ blocks: [{ bytes: Buffer.from([0xff, 1, 2]) }] }), 'block does not decode'],
  ])('%s', (_name, input, message) => {
    expect(() => decodeLz4Frames(input)).toThrow(Lz4FrameError);
    expect(() => decodeLz4Frames(input)).toThrow(message);
  });

  it('a frame that needs a dictionary', () => {
    const desc = Buffer.from([0x61, 0x40, 1, 0, 0, 0]);
    const f = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18]),
      desc,
      Buffer.from([(xxh32(desc) >>> 8) & 0xff]),
      Buffer.alloc(4),
    ]);
    expect(() => decodeLz4Frames(f)).toThrow('needs a dictionary');
  });

  it('every truncation of a frame', () => {
    for (let n = 0; n < good.length; n += 1) {
      expect(() => decodeLz4Frames(good.subarray(0, n))).toThrow(Lz4FrameError);
    }
  });

  it('corrupted bytes: refused or decoded to other bytes, never another kind of failure', () => {
    const data = webhookJson(4);
    let refused = 0;
    for (let i = 0; i < 2000; i += 1) {
      const bad = Buffer.from(good);
      const at = 7 + ((i * 7919) % (good.length - 7));
      bad[at] ^= 1 + (i % 255);
      try {
        expect(decodeLz4Frames(bad).equals(data)).toBe(false);
      } catch (e) {
        if (!(e instanceof Lz4FrameError)) throw e;
        refused += 1;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});

describe('the kafkajs codecs', () => {
  const data = webhookJson(16);

  it('LZ4: writes our frames, reads them back', async () => {
    const codec = CompressionCodecs[CompressionTypes.LZ4]();
    const compressed: Buffer = await codec.compress({ buffer: data });
    expectBytes(compressed, encodeLz4Frame(data));
    expectBytes(await codec.decompress(compressed), data);
    expectBytes(await codec.decompress(compressFrameSync(data)), data);
  });

  it('GZIP batches written before LZ4 are still read', async () => {
    const codec = CompressionCodecs[CompressionTypes.GZIP]();
    expectBytes(await codec.decompress(gzipSync(data, { level: 3 })), data);
  });
});
