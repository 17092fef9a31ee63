import type { IHeaders } from 'kafkajs';

/** A record header as text (kafkajs gives a Buffer, a string or an array of them). */
export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}
