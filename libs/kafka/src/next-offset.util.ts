/** The offset to commit after processing `offset` (Kafka commits the next offset to read). */
export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}
