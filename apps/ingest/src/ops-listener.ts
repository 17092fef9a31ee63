import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { Config } from '@iks/config';

/**
 * INGEST_METRICS_HOST:INGEST_METRICS_PORT, a second listener that serves /metrics and
 * /health/* of the same app (and nothing else), so they can stay off the public webhook port.
 * One per app: it knows which requests came through it.
 */
@Injectable()
export class OpsListener implements OnApplicationShutdown {
  private readonly requests = new WeakSet<IncomingMessage>();
  private server: Server | null = null;

  /** Whether this request came in on the operations listener. */
  has(req: IncomingMessage): boolean {
    return this.requests.has(req);
  }

  async listen(fastify: FastifyInstance, config: Config): Promise<Server> {
    await fastify.ready();
    const server = createServer((req, res) => {
      this.requests.add(req);
      fastify.routing(req, res);
    });
    server.requestTimeout = config.ingest.requestTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.ingest.metricsPort, config.ingest.metricsHost, () => resolve());
    });
    this.server = server;
    return server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
