import type { BackfillResult, PageEvent } from './backfill.runner';

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(chunk: string): unknown;
}

/**
 * Progress to stderr: on a TTY one line rewritten in place (objects read, rate, ETA when
 * Intercom's total_count is known), at most every 200 ms; otherwise a plain line per page.
 */
export class BackfillProgress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly tty = out.isTTY === true,
  ) {}

  page(e: PageEvent): void {
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = elapsed > 0 ? e.runObjects / elapsed : 0;
    const total = e.totalCount ?? null;
    const remaining = total !== null ? Math.max(0, total - e.kindObjects) : null;
    const eta = remaining !== null && rate > 0 ? formatDuration(remaining / rate) : null;
    const of = total !== null ? `/${total}` : '';
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastDraw < 200 && remaining !== 0) return;
      this.lastDraw = now;
      this.drawn = true;
      this.out.write(
        `\r\x1b[2K${e.kind}: ${e.kindObjects}${of} read, ${rate.toFixed(1)}/s${eta ? `, ETA ${eta}` : ''}`,
      );
      return;
    }
    this.out.write(
      `backfill ${e.kind} page ${e.page}: ${e.pageObjects} objects, ${e.pageRecords} records, ${e.kindObjects}${of} read, ${rate.toFixed(1)}/s${eta ? `, ETA ${eta}` : ''}\n`,
    );
  }

  summary(r: BackfillResult): string {
    const secs = (Date.now() - this.started) / 1000;
    const kinds = Object.entries(r.byKind)
      .map(([k, p]) => `${k} ${p!.objects}${p!.done ? '' : ' (partial)'}`)
      .join(', ');
    return (
      `backfill ${r.outcome}${r.resumed ? ' (resumed)' : ''}: ${r.objects} objects read, ${r.records} notifications written in ${r.pages} pages, ${secs.toFixed(1)} s` +
      `${secs > 0 ? `, ${(r.objects / secs).toFixed(1)}/s` : ''}; totals ${kinds || 'none'}; checkpoint ${r.checkpointPath}`
    );
  }

  /** Ends the TTY line; the caller prints summary() where it wants (stdout). */
  finish(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
