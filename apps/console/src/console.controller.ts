import { Body, Controller, Get, HttpException, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actionRefusal, COOKIE, sameSecret } from './console-auth';
import { ConsoleService, ReprocessError } from './console.service';
import { ReplayRequestError, type PlannedReplay, type ReplayRequest, type ReplayStatus } from './console-replay';
import { ConsoleConnections } from './console-connections';
import { connectionFilter, gapsPage, letterPage, metricsPage, personPage, pipelinePage } from './page-models';

/** The `connection=` query parameter: a connection id, or null for every connection. */
const connectionParam = (v: string | undefined): string | null => {
  const t = (v ?? '').trim();
  return t === '' ? null : t.slice(0, 63);
};

/** The pages (eta templates in apps/console/views, fed by page-models.ts) and the JSON API. */
@Controller()
export class ConsoleController {
  constructor(
    @Inject(ConsoleService) private readonly console: ConsoleService,
    @Inject(ConsoleConnections) private readonly connections: ConsoleConnections,
  ) {}

  /** The connection filter's choices and selection (Metrics, Person, Pipeline, Gaps). */
  private filter(selected: string | null) {
    return connectionFilter(
      this.connections.directory.allWithRemoved().map((c) => c.id),
      selected,
    );
  }

  @Get()
  root(@Res() reply: FastifyReply): void {
    void reply.code(302).header('location', '/metrics').send();
  }

  /** What the read model holds, for scripts and the benchmark (counts and this process's memory; nothing personal). */
  @Get('api/status')
  status(): { outcomes: number; deadLetters: number; behind: number | null; heapUsedBytes: number; rssBytes: number } {
    const m = process.memoryUsage();
    return {
      outcomes: this.console.model.outcomes,
      deadLetters: this.console.model.deadLetterCount,
      behind: this.console.feed.behind(),
      heapUsedBytes: m.heapUsed,
      rssBytes: m.rss,
    };
  }

  @Get('metrics')
  metrics(
    @Res() reply: FastifyReply,
    @Query('metric') metric?: string,
    @Query('connection') connection?: string,
  ): Promise<unknown> {
    const selected = connectionParam(connection);
    return this.render(reply, 'metrics', {
      ...metricsPage(
        this.console.model,
        this.console.metricRows(),
        metric ?? null,
        Date.now(),
        this.console.feed.behind(),
        selected,
      ),
      filter: { ...this.filter(selected), action: '/metrics', extra: metric ? { metric } : {} },
    });
  }

  @Get('person')
  person(
    @Res() reply: FastifyReply,
    @Query('q') q?: string,
    @Query('connection') connection?: string,
  ): Promise<unknown> {
    const selected = connectionParam(connection);
    const query = (q ?? '').trim().slice(0, 320);
    return this.render(reply, 'person', {
      ...personPage(this.console.model, query, selected),
      filter: { ...this.filter(selected), action: '/person', extra: query ? { q: query } : {} },
    });
  }

  @Get('pipeline')
  async pipeline(@Res() reply: FastifyReply, @Query('connection') connection?: string): Promise<unknown> {
    const lag = await this.console.lag.read().catch((e: Error) => e.message);
    const selected = connectionParam(connection);
    return this.render(reply, 'pipeline', {
      ...pipelinePage(this.console.model, lag, Date.now(), {
        canAct: this.console.canAct,
        throttling: this.console.throttling,
        replay: this.console.replay.status(),
        replayTopics: this.console.replayTopics(),
        connection: selected,
      }),
      filter: { ...this.filter(selected), action: '/pipeline', extra: {} },
    });
  }

  @Get('dead-letters/:at')
  letter(@Res() reply: FastifyReply, @Param('at') at: string): Promise<unknown> {
    const l = this.console.model.letters.get(at);
    if (!l) throw new HttpException(`no dead letter ${at}`, 404);
    return this.render(reply, 'letter', letterPage(l, this.console.canAct));
  }

  @Get('gaps')
  gaps(@Res() reply: FastifyReply, @Query('connection') connection?: string): Promise<unknown> {
    const selected = connectionParam(connection);
    return this.render(reply, 'gaps', {
      ...gapsPage(this.console.gaps, selected),
      filter: { ...this.filter(selected), action: '/gaps', extra: {} },
    });
  }

  @Get('login')
  login(@Res() reply: FastifyReply): Promise<unknown> {
    return this.render(reply, 'login', { title: 'Sign in', active: '' });
  }

  @Post('login')
  signIn(@Body() body: { token?: unknown } | undefined, @Res({ passthrough: true }) reply: FastifyReply): { ok: true } {
    const token = this.console.config.console.token;
    if (!token) return { ok: true };
    if (typeof body?.token !== 'string' || !sameSecret(body.token, token)) throw new HttpException('wrong token', 401);
    void reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(body.token)}; HttpOnly; SameSite=Strict; Path=/`);
    return { ok: true };
  }

  @Post('api/replay/plan')
  async planReplay(@Req() req: FastifyRequest, @Body() body: ReplayRequest | undefined): Promise<PlannedReplay> {
    this.refuseUnlessAction(req);
    if (typeof body?.topic !== 'string')
      throw new HttpException('body must be {"topic": "<topic>", "fromTime"?: "<ISO>", "toTime"?: "<ISO>"}', 400);
    return this.replayErrors(() => this.console.replay.plan(body));
  }

  @Post('api/replay/start')
  async startReplay(@Req() req: FastifyRequest, @Body() body: { id?: unknown } | undefined): Promise<ReplayStatus> {
    this.refuseUnlessAction(req);
    if (typeof body?.id !== 'string') throw new HttpException('body must be {"id": "<plan id>"}', 400);
    return this.replayErrors(() => this.console.replay.start(body.id as string));
  }

  @Get('api/replay')
  replayStatus(): { replay: ReplayStatus | null } {
    return { replay: this.console.replay.status() };
  }

  @Post('api/dead-letters/reprocess')
  async reprocess(
    @Req() req: FastifyRequest,
    @Body() body: { at?: unknown } | undefined,
  ): Promise<{ at: string; sentTo: string }> {
    this.refuseUnlessAction(req);
    if (typeof body?.at !== 'string')
      throw new HttpException('body must be {"at": "<dlq topic>:<partition>:<offset>"}', 400);
    try {
      return { at: body.at, sentTo: await this.console.reprocess(body.at) };
    } catch (e) {
      if (e instanceof ReprocessError) throw new HttpException(e.message, e.status);
      throw e;
    }
  }

  /** A page: its template (escaping by default) with the data its page model computed. */
  private async render(reply: FastifyReply, template: string, data: object): Promise<unknown> {
    const html = await reply.viewAsync(template, data);
    return reply.type('text/html; charset=utf-8').send(html);
  }

  private refuseUnlessAction(req: FastifyRequest): void {
    const refusal = actionRefusal(req, this.console.config.console.operatorToken);
    if (refusal) throw new HttpException(refusal, 403);
  }

  private async replayErrors<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ReplayRequestError) throw new HttpException(e.message, e.status);
      throw e;
    }
  }
}
