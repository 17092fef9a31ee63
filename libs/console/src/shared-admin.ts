import type { Admin, Kafka } from 'kafkajs';

/**
 * One admin connection kept open for the pages (lag, how far the read model is behind): a
 * connect per page costs a metadata round trip. Dropped after an error so the next use reconnects.
 */
export class SharedAdmin {
  private admin: Promise<Admin> | null = null;

  constructor(private readonly kafka: Kafka) {}

  async use<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    this.admin ??= (async () => {
      const a = this.kafka.admin();
      await a.connect();
      return a;
    })();
    const pending = this.admin;
    try {
      return await fn(await pending);
    } catch (e) {
      if (this.admin === pending) this.admin = null;
      void pending.then((a) => a.disconnect()).catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const a = this.admin;
    this.admin = null;
    await a?.then((x) => x.disconnect()).catch(() => undefined);
  }
}
