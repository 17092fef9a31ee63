import { randomBytes } from 'node:crypto';
import type { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { Secret } from '@iks/config';
import { ConnectionSealer } from '@iks/connections';
import { topic, type AvroCodec } from '@iks/kafka';
import { distinctSubjects, NotSharedSealError, openShared, sealShared, sharedSubjects } from './shared-seal';
import { ErasedSubjectError, SubjectKeys, type Subject } from './subject-keys';

/**
 * SubjectKeys with its real crypto and an in-memory topic: what it produces is kept (the key
 * records, tombstones and markers), nothing is followed. The broker itself:
 * subject-keys.integration-spec.ts and the transformer's erasure integration spec.
 */
function keysInMemory(): { keys: SubjectKeys; sent: ProducerRecord[] } {
  const sent: ProducerRecord[] = [];
  const producer = { send: async (r: ProducerRecord) => void sent.push(r) } as unknown as Producer;
  const codec = { encodeAs: async (_t: unknown, r: unknown) => Buffer.from(JSON.stringify(r)) } as unknown as AvroCodec;
  const sealer = new ConnectionSealer([{ kid: 'r1', key: new Secret(randomBytes(32).toString('base64')) }]);
  const keys = new SubjectKeys({} as Kafka, codec, producer, sealer, topic('subjectKeys', 'unit.'), 'unit');
  return { keys, sent };
}

const ann: Subject = { connectionId: 'alpha', contactId: 'c-ann' };
const bob: Subject = { connectionId: 'alpha', contactId: 'c-bob' };
const annOfBeta: Subject = { connectionId: 'beta', contactId: 'c-ann' };
const body = Buffer.from(
  JSON.stringify({ topic: 'conversation.user.replied', email: 'ann@example.com', phone: '+15550100', name: 'Ann Ahn' }),
);

describe('sealShared / openShared: a value of several people, unreadable once any one is erased', () => {
  it('opens for its subjects, and the sealed bytes hold none of the clear value', async () => {
    const { keys } = keysInMemory();
    for (const subjects of [[ann], [ann, bob], [ann, bob, annOfBeta]]) {
      const sealed = await sealShared(keys, subjects, body);
      expect((await openShared(keys, sealed)).equals(body)).toBe(true);
      for (const needle of ['ann@example.com', '+15550100', 'Ann Ahn', 'conversation'])
        expect(sealed.includes(Buffer.from(needle))).toBe(false);
      expect(sharedSubjects(sealed)).toEqual(subjects);
    }
  });

  it('gives one share per distinct subject, and makes a key once per subject (acks all, before the value)', async () => {
    const { keys, sent } = keysInMemory();
    const sealed = await sealShared(keys, [ann, bob, ann, { ...bob }], body);
    expect(sharedSubjects(sealed)).toEqual([ann, bob]);
    expect(sent.map((r) => [r.acks, r.messages.map((m) => m.key)])).toEqual([
      [-1, [expect.stringMatching(/^alpha\/c-ann#[0-9a-f]{16}$/)]],
      [-1, [expect.stringMatching(/^alpha\/c-bob#[0-9a-f]{16}$/)]],
    ]);
    await sealShared(keys, [bob, ann], body);
    expect(sent).toHaveLength(2);
    expect(distinctSubjects([ann, annOfBeta, ann])).toEqual([ann, annOfBeta]);
  });

  it('reuses the record key and shares of a set (one AES-GCM pass per value), each value under its own iv', async () => {
    const { keys, sent } = keysInMemory();
    const first = await sealShared(keys, [ann, bob], body);
    const second = await sealShared(keys, [ann, bob], body);
    const headerLen = first.length - 1 - body.length - 28; // the codec byte (this short body stays as is), iv, tag
    expect(second.subarray(0, headerLen).equals(first.subarray(0, headerLen))).toBe(true);
    expect(second.subarray(headerLen, headerLen + 12).equals(first.subarray(headerLen, headerLen + 12))).toBe(false);
    expect(second.equals(first)).toBe(false);
    expect((await openShared(keys, second)).equals(body)).toBe(true);
    expect(sent).toHaveLength(2); // the two subjects' keys, once
    // another set gets its own record key
    const other = await sealShared(keys, [bob, ann], body);
    expect(other.subarray(0, headerLen).equals(first.subarray(0, headerLen))).toBe(false);
  });

  it("a reader opens a set's shares once, not once a value, and forgets what it opened when any key is destroyed", async () => {
    const { keys } = keysInMemory();
    const values: Buffer[] = [];
    for (let i = 0; i < 3; i++) values.push(await sealShared(keys, [ann, bob], body));
    const open = jest.spyOn(keys, 'open');
    for (const v of values) expect((await openShared(keys, v)).equals(body)).toBe(true);
    expect(open).toHaveBeenCalledTimes(2); // ann's share and bob's, for the first value only
    // another person erased: every opened record key is let go, the shares are opened again
    await keys.erase(annOfBeta);
    expect((await openShared(keys, values[0])).equals(body)).toBe(true);
    expect(open).toHaveBeenCalledTimes(4);
    // the keys destroyed here (stop): a value opened a moment ago no longer opens from the cache
    await keys.stop();
    await expect(openShared(keys, values[1])).rejects.toThrow(ErasedSubjectError);
  });

  it('does not reuse the record key of a set once one of its subjects is erased: the next value never opens', async () => {
    const { keys } = keysInMemory();
    const before = await sealShared(keys, [ann, bob], body);
    await keys.erase(bob);
    const after = await sealShared(keys, [ann, bob], body);
    await expect(openShared(keys, before)).rejects.toThrow(ErasedSubjectError);
    await expect(openShared(keys, after)).rejects.toThrow(ErasedSubjectError);
    // ann's own values still open
    expect((await openShared(keys, await sealShared(keys, [ann], body))).equals(body)).toBe(true);
  });

  it.each([
    ['the first', 0],
    ['the second', 1],
    ['the third', 2],
  ])('fails as erased once %s of three subjects is erased, and only then', async (_n, i) => {
    const { keys } = keysInMemory();
    const subjects = [ann, bob, annOfBeta];
    const sealed = await sealShared(keys, subjects, body);
    const other = await sealShared(
      keys,
      subjects.filter((_, k) => k !== i),
      body,
    );
    await keys.erase(subjects[i]);
    await expect(openShared(keys, sealed)).rejects.toThrow(ErasedSubjectError);
    await expect(openShared(keys, sealed)).rejects.toThrow(`${subjects[i].connectionId}/${subjects[i].contactId}`);
    // a value that does not name the erased subject still opens
    expect((await openShared(keys, other)).equals(body)).toBe(true);
  });

  it('seals a value of an already erased subject so that it never opens (a throw-away key, nothing written)', async () => {
    const { keys, sent } = keysInMemory();
    await keys.erase(ann);
    const before = sent.length;
    const sealed = await sealShared(keys, [bob, ann], body);
    expect(sent.length - before).toBe(1); // bob's key only
    await expect(openShared(keys, sealed)).rejects.toThrow(ErasedSubjectError);
  });

  it('does not open in another process without the keys (they live in the topic, not in the bytes)', async () => {
    const sealed = await sealShared(keysInMemory().keys, [ann], body);
    await expect(openShared(keysInMemory().keys, sealed)).rejects.toThrow(ErasedSubjectError);
  });

  it('compresses a value that compresses (an LZ4 block inside the seal) and opens it byte for byte', async () => {
    const { keys } = keysInMemory();
    const json = Buffer.from(
      JSON.stringify({
        type: 'notification_event',
        topic: 'conversation.user.replied',
        data: {
          item: {
            parts: Array.from({ length: 20 }, (_, i) => ({ id: `part-${i}`, body: '<p>Thanks, that helped</p>' })),
          },
        },
      }),
    );
    const noise = randomBytes(2000);
    const sealedJson = await sealShared(keys, [ann], json);
    const sealedNoise = await sealShared(keys, [ann], noise);
    expect(sealedJson.length).toBeLessThan(json.length / 2);
    expect(sealedNoise.length).toBeGreaterThan(noise.length);
    expect((await openShared(keys, sealedJson)).equals(json)).toBe(true);
    expect((await openShared(keys, sealedNoise)).equals(noise)).toBe(true);
    expect((await openShared(keys, await sealShared(keys, [ann], Buffer.alloc(0)))).length).toBe(0);
  });

  it("refuses an altered value, another value's header and bytes of another format", async () => {
    const { keys } = keysInMemory();
    const sealed = await sealShared(keys, [ann, bob], body);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] ^= 1;
    await expect(openShared(keys, flipped)).rejects.toThrow('altered');
    // the header (subjects, shares) is the value's additional data: another set's header (as long) does not fit
    const other = await sealShared(keys, [bob, ann], Buffer.from('other'));
    const headerLen = sealed.length - body.length - 28;
    const swapped = Buffer.concat([other.subarray(0, headerLen), sealed.subarray(headerLen)]);
    await expect(openShared(keys, swapped)).rejects.toThrow('altered');
    await expect(openShared(keys, Buffer.from('{"not":"sealed"}'))).rejects.toThrow(NotSharedSealError);
    await expect(openShared(keys, sealed.subarray(0, 20))).rejects.toThrow(NotSharedSealError);
    await expect(sealShared(keys, [], body)).rejects.toThrow('at least one subject');
  });
});
