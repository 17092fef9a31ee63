import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';

export const HEALTH_PROBE = Symbol('HEALTH_PROBE');

/** One named check: up or down, with details an operator can read (never a secret). */
export interface HealthCheckOutcome {
  readonly up: boolean;
  readonly detail?: Record<string, unknown>;
}

/** What an app can say about itself: can it do its work now (ready), should it be restarted (not live). */
export interface HealthProbe {
  readiness(): Promise<Record<string, HealthCheckOutcome>> | Record<string, HealthCheckOutcome>;
  liveness?(): Promise<Record<string, HealthCheckOutcome>> | Record<string, HealthCheckOutcome>;
}

/** GET /health/live and /health/ready through @nestjs/terminus (503 with the failing checks named). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_PROBE) private readonly probe: HealthProbe,
  ) {}

  @Get('live')
  @HealthCheck()
  async live() {
    const checks = (await this.probe.liveness?.()) ?? { process: { up: true } };
    return this.health.check(this.indicatorsOf(checks));
  }

  @Get('ready')
  @HealthCheck()
  async ready() {
    return this.health.check(this.indicatorsOf(await this.probe.readiness()));
  }

  private indicatorsOf(checks: Record<string, HealthCheckOutcome>): Array<() => HealthIndicatorResult> {
    return Object.entries(checks).map(([key, c]) => () => {
      const session = this.indicators.check(key);
      return c.up ? session.up(c.detail ?? {}) : session.down(c.detail ?? {});
    });
  }
}
