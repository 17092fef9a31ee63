/** A record whose bytes are not what its topic holds: the record's fault, never retried (a dead letter). */
export class RecordDecodeError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'RecordDecodeError';
  }
}
