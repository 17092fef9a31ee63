/**
 * A notification whose payload cannot be mapped (no data.item, wrong object type, a
 * ticket.state.updated without a state...). Retrying cannot help: the transformer
 * dead-letters it with this message.
 */
export class MappingError extends Error {
  readonly retriable = false;
  constructor(
    message: string,
    readonly code: MappingErrorCode = 'invalid_payload',
  ) {
    super(message);
    this.name = 'MappingError';
  }
}

export type MappingErrorCode = 'invalid_payload' | 'missing_item' | 'missing_field' | 'legacy_payload';
