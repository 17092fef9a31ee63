/** The validated configuration (libs/config), provided once by ConsoleModule.forRoot. */
export const CONFIG = Symbol('CONFIG');
/** The console's Kafka client (one for the feed, the lag reader, replay and reprocess). */
export const KAFKA = Symbol('KAFKA');
