import { randomBytes } from 'node:crypto';
import {
  Body,
  Controller,
  Get,
  HttpException,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Secret } from '@iks/config';
import { actionRefusal, cookieOf } from './console-auth';
import { ConnectionRefusal, ConsoleConnections, OAUTH_COOKIE, type CallbackQuery } from './console-connections';
import { connectionsPage } from './page-models';
import { ConsoleService } from './console.service';

type Json = Record<string, unknown> | undefined;

const text = (b: Json, k: string, max = 200): string => {
  const v = b?.[k];
  return typeof v === 'string' ? v.trim().slice(0, max) : '';
};

/**
 * The Connections page and its actions (docs/CONSOLE.md, "Connections"): every change is a JSON
 * POST carrying the operator token in its header (actionRefusal: a cross-site form cannot send
 * one); the OAuth callbacks are the only routes open without the console token, and they accept
 * only a pending `state` of the browser that started it.
 */
@Controller()
export class ConnectionsController implements OnApplicationShutdown {
  constructor(
    @Inject(ConsoleConnections) private readonly c: ConsoleConnections,
    @Inject(ConsoleService) private readonly console: ConsoleService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.c.stop();
  }

  @Get('connections')
  page(@Res() reply: FastifyReply): Promise<unknown> {
    const d = this.c.directory;
    const klaviyo = this.c.klaviyoEnabled ? { redirectUri: this.c.redirectUri('klaviyo')! } : null;
    const intercom = this.c.intercomEnabled ? { redirectUri: this.c.redirectUri('intercom')! } : null;
    return this.render(
      reply,
      'connections',
      connectionsPage({
        canAct: this.console.canAct,
        canStore: this.c.canStore,
        connections: d.allWithRemoved(),
        unusable: d.unusable(),
        klaviyo,
        intercom,
        klaviyoHalves: [...this.c.klaviyoHalves.values()],
        intercomHalves: [...this.c.intercomHalves.values()],
      }),
    );
  }

  @Post('api/connections')
  async add(@Req() req: FastifyRequest, @Body() b: Json): Promise<unknown> {
    this.refuseUnlessAction(req);
    const secret = (k: string) => {
      const v = text(b, k, 4096);
      if (!v) throw new HttpException(`${k} is required`, 400);
      return new Secret(v);
    };
    const id = text(b, 'id', 63);
    if (!id) throw new HttpException('id is required', 400);
    return this.refusals(async () => {
      const c = await this.c.add({
        id,
        name: text(b, 'name'),
        region: text(b, 'region') || 'US',
        intercomAccessToken: secret('intercomAccessToken'),
        intercomClientSecret: secret('intercomClientSecret'),
        klaviyoPrivateKey: secret('klaviyoPrivateKey'),
      });
      return { id: c.id, appId: c.intercom.appId, accountId: c.klaviyo.accountId, status: c.status };
    });
  }

  @Post('api/connections/:id/:action')
  async change(@Req() req: FastifyRequest, @Param('id') id: string, @Param('action') action: string): Promise<unknown> {
    this.refuseUnlessAction(req);
    return this.refusals(async () => {
      if (action === 'pause') return { id, status: (await this.c.pause(id)).status };
      if (action === 'resume') return { id, status: (await this.c.resume(id)).status };
      if (action === 'remove') {
        const r = await this.c.remove(id);
        return { id, status: r.connection.status, revoked: r.revoked, revokeError: r.revokeError };
      }
      throw new ConnectionRefusal(`unknown action "${action.slice(0, 20)}" (pause, resume, remove)`, 404);
    });
  }

  @Post('api/connections-pair')
  async pair(@Req() req: FastifyRequest, @Body() b: Json): Promise<unknown> {
    this.refuseUnlessAction(req);
    return this.refusals(async () => {
      const c = await this.c.pair({
        id: text(b, 'id', 63),
        name: text(b, 'name'),
        intercom: text(b, 'intercom'),
        klaviyo: text(b, 'klaviyo'),
      });
      return { id: c.id, appId: c.intercom.appId, accountId: c.klaviyo.accountId, status: c.status };
    });
  }

  @Post('api/connections-halves/:id/discard')
  async discard(@Req() req: FastifyRequest, @Param('id') id: string): Promise<unknown> {
    this.refuseUnlessAction(req);
    return this.refusals(() => this.c.discard(id));
  }

  @Post('api/connections-oauth/:vendor/start')
  async start(
    @Req() req: FastifyRequest,
    @Param('vendor') vendor: string,
    @Body() b: Json,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<unknown> {
    this.refuseUnlessAction(req);
    const nonce = this.browserNonce(req, reply);
    return this.refusals(async () => {
      if (vendor === 'klaviyo') return this.c.startKlaviyo(nonce);
      if (vendor === 'intercom') return this.c.startIntercom(nonce, text(b, 'region') || 'US');
      throw new ConnectionRefusal('unknown vendor (klaviyo, intercom)', 404);
    });
  }

  @Get('oauth/klaviyo/callback')
  async klaviyoCallback(
    @Req() req: FastifyRequest,
    @Query() q: CallbackQuery,
    @Res() reply: FastifyReply,
  ): Promise<unknown> {
    return this.callback(reply, 'Klaviyo', async () => {
      const h = await this.c.klaviyoCallback(q, cookieOf(req, OAUTH_COOKIE));
      return `Klaviyo account ${h.accountId}${h.organizationName ? ` (${h.organizationName})` : ''} is connected and waits to be paired with an Intercom workspace.`;
    });
  }

  @Get('oauth/intercom/callback')
  async intercomCallback(
    @Req() req: FastifyRequest,
    @Query() q: CallbackQuery,
    @Res() reply: FastifyReply,
  ): Promise<unknown> {
    return this.callback(reply, 'Intercom', async () => {
      const h = await this.c.intercomCallback(q, cookieOf(req, OAUTH_COOKIE));
      return `Intercom workspace ${h.appId}${h.name ? ` (${h.name})` : ''}, region ${h.region}, is connected and waits to be paired with a Klaviyo account.`;
    });
  }

  private async callback(reply: FastifyReply, vendor: string, fn: () => Promise<string>): Promise<unknown> {
    let status = 200;
    let message: string;
    try {
      message = await fn();
    } catch (e) {
      if (!(e instanceof ConnectionRefusal)) throw e;
      status = e.status;
      message = e.message;
    }
    reply.code(status);
    return this.render(reply, 'oauth-result', {
      title: `Connect ${vendor}`,
      active: 'connections',
      vendor,
      ok: status === 200,
      status,
      message,
    });
  }

  /** The browser's OAuth session cookie (SameSite=Lax: it comes back on the top-level redirect from the vendor). */
  private browserNonce(req: FastifyRequest, reply: FastifyReply): string {
    const held = cookieOf(req, OAUTH_COOKIE);
    if (held && /^[A-Za-z0-9_-]{32,64}$/.test(held)) return held;
    const nonce = randomBytes(32).toString('base64url');
    const secure = (this.console.config.consoleOAuth.publicUrl ?? '').startsWith('https:') ? '; Secure' : '';
    void reply.header('set-cookie', `${OAUTH_COOKIE}=${nonce}; HttpOnly; SameSite=Lax; Path=/oauth${secure}`);
    return nonce;
  }

  private async render(reply: FastifyReply, template: string, data: object): Promise<unknown> {
    const html = await reply.viewAsync(template, data);
    return reply.type('text/html; charset=utf-8').send(html);
  }

  private refuseUnlessAction(req: FastifyRequest): void {
    const refusal = actionRefusal(req, this.console.config.console.operatorToken);
    if (refusal) throw new HttpException(refusal, 403);
  }

  private async refusals<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ConnectionRefusal) throw new HttpException(e.message, e.status);
      throw e;
    }
  }
}
