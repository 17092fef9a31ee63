import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { isObservable, lastValueFrom, throwError, type Observable } from 'rxjs';
import type { HandlerLookup, StageBatch, StageResult } from './stage.types';

/** What a stage offers its transport: start consuming with these handlers, stop. */
export interface StageLifecycle {
  start(opts: undefined, handlerFor: HandlerLookup): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Nest microservice transport over the project's batching stage consumer: each topic's
 * batches go to the @EventPattern handler of its pattern, which returns the records' outcomes
 * (the runner then produces, dead-letters, counts and commits). listen() fails, and the app
 * with it, when a consumed topic has no handler.
 */
export class StageServer extends Server implements CustomTransportStrategy {
  constructor(private readonly stage: StageLifecycle) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.stage.start(undefined, (pattern) => {
        const handler = this.getHandlerByPattern(pattern);
        return handler ? (batch: StageBatch) => this.invoke(handler, batch) : undefined;
      });
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

  private async invoke(handler: MessageHandler, batch: StageBatch): Promise<StageResult> {
    const result = await handler(batch);
    return (isObservable(result) ? await lastValueFrom(result as Observable<StageResult>) : result) as StageResult;
  }
}

/**
 * Nest's default RPC filter turns any error into { status: 'error', message: 'Internal server
 * error' }: the stage runner needs the error itself (its class, `retriable`) to log and retry.
 */
@Catch()
export class StageErrorPassThrough implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
