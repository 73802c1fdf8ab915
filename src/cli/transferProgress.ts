/**
 * The transfer progress meter of scp(1) and sftp(1) (OpenSSH progressmeter.c): one line redrawn with "\r"
 * at most once a second, the file name, percent, bytes so far, rate and ETA; the elapsed time once done.
 * Drawn only on a terminal: nothing when the output is a pipe or a file, or when quiet.
 */
import type { Writable } from "node:stream";

const UNITS = [" ", "K", "M", "G", "T"];

/** As progressmeter.c's format_size: at most four digits and a unit, "5000  " for bytes, "9766KB". */
export function formatSize(bytes: number): string {
  let v = Math.floor(bytes);
  let i = 0;
  while (v >= 10000 && i < UNITS.length - 1) {
    v = Math.floor((v + 512) / 1024);
    i++;
  }
  return `${String(v).padStart(4)}${UNITS[i]}${i ? "B" : " "}`;
}

/** As progressmeter.c's format_rate: one decimal, at least KB, "  1.2MB". */
export function formatRate(bytesPerSecond: number): string {
  let v = Math.floor(bytesPerSecond * 100);
  let i = 0;
  while (v >= 100 * 1000 && i < UNITS.length - 1) {
    v = Math.floor((v + 512) / 1024);
    i++;
  }
  if (i === 0) {
    i = 1;
    v = Math.floor((v + 512) / 1024);
  }
  const whole = Math.floor((v + 5) / 100);
  const tenth = Math.floor((v + 5) / 10) % 10;
  return `${String(whole).padStart(3)}.${tenth}${UNITS[i]}B`;
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class ProgressMeter {
  private readonly started = Date.now();
  private lastDraw = 0;
  private transferred = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly name: string,
    private readonly total: number,
    private readonly out: Writable & { isTTY?: boolean; columns?: number },
    options: { quiet?: boolean; startedAt?: number } = {},
  ) {
    this.enabled = !options.quiet && out.isTTY === true;
    this.transferred = options.startedAt ?? 0;
    this.startOffset = this.transferred;
    this.draw(false);
  }

  private readonly startOffset: number;

  update(transferred: number): void {
    this.transferred = transferred;
    if (Date.now() - this.lastDraw >= 1000) this.draw(false);
  }

  /** The final line: 100% and the elapsed time, then a newline. */
  finish(): void {
    this.draw(true);
    if (this.enabled) this.out.write("\n");
  }

  private draw(done: boolean): void {
    this.lastDraw = Date.now();
    if (!this.enabled) return;
    const width = Math.max(40, this.out.columns ?? 80);
    const elapsed = (Date.now() - this.started) / 1000;
    const moved = this.transferred - this.startOffset;
    const rate = elapsed > 0 ? moved / elapsed : 0;
    const percent = this.total > 0 ? Math.min(100, Math.floor((this.transferred * 100) / this.total)) : 100;
    let tail: string;
    if (done) tail = `${clock(elapsed)}    `;
    else if (rate > 0 && this.total > this.transferred)
      tail = `${clock((this.total - this.transferred) / rate)} ETA`;
    else tail = "--:-- ETA";
    const right = ` ${String(percent).padStart(3)}% ${formatSize(this.transferred)} ${formatRate(rate)}/s ${tail.padStart(9)}`;
    const nameWidth = Math.max(1, width - right.length - 1);
    const name = this.name.length > nameWidth ? this.name.slice(0, nameWidth) : this.name.padEnd(nameWidth);
    this.out.write(`\r${name}${right}`);
  }
}
