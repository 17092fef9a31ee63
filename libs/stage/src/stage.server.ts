import { Server, type CustomTransportStrategy } from '@nestjs/microservices';

/** What a stage offers its transport: start consuming (with its @OnTopic handlers), stop. */
export interface StageLifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Nest microservice transport over the project's batching stage consumer: listen() starts the
 * stage (each consumed topic's batches go to the stage's one @OnTopic handler of that topic,
 * which returns the records' outcomes; the runner then produces, dead-letters, counts and
 * commits). listen() fails, and the app with it, when a consumed topic has no handler or two.
 */
export class StageServer extends Server implements CustomTransportStrategy {
  constructor(private readonly stage: StageLifecycle) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.stage.start();
      callback();
    } catch (e) {
      callback(e);
    }
  }

  async close(): Promise<void> {
    await this.stage.stop();
  }

  on(): never {
    throw new Error('StageServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.stage as T;
  }
}
