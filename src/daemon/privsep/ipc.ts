/**
 * Requests and answers between nsshd's processes over Node's IPC channel (the monitor and its pre-auth
 * workers and session processes), with sockets passed alongside. Every incoming message is checked before
 * it reaches a handler (schema.ts); one that fails is refused, reported through `onRefused`, and never acted
 * on. Answers are matched to requests by id; requests in flight are bounded.
 */
import type net from "node:net";
import { SchemaError, type Check } from "./schema.js";

/** What a ChildProcess, or `process` inside a child, offers. */
export interface IpcChannel {
  /** False once the channel closed (Node then reports a send as an "error" event, not by throwing). */
  readonly connected?: boolean;
  send(message: unknown, sendHandle?: net.Socket, options?: { keepOpen?: boolean }): boolean;
  on(event: "message", listener: (message: unknown, handle?: unknown) => void): unknown;
  on(event: "disconnect", listener: () => void): unknown;
}

type Envelope =
  | { t: "req"; id: number; op: string; args: unknown }
  /** A one-way message: handled like a request, never answered (log lines, level changes). */
  | { t: "note"; op: string; args: unknown }
  | { t: "res"; id: number; ok: true; value: unknown }
  | { t: "res"; id: number; ok: false; error: string };

interface Handler {
  check: Check<unknown>;
  run(args: unknown, socket: net.Socket | undefined): unknown;
  /** Whether a socket may come with this request; any other handle is closed unread. */
  takesSocket: boolean;
}

interface Pending {
  check: Check<unknown>;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class IpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpcError";
  }
}

const MAX_ID = 2 ** 31;

/** Log levels by rank, as the daemon's log orders them (log.ts): a line of rank above the limit is dropped. */
const LOG_RANK: Record<string, number> = { error: 2, info: 3, verbose: 4, debug1: 5, debug2: 6, debug3: 7 };

/** The environment variable a child finds the monitor's log rank in when it starts (childProcesses.ts). */
export const LOG_RANK_ENV = "NSSHD_LOG_RANK";
/** The log rank the monitor gave this child at its start (undefined: not given, send every line). */
export function logRankFromEnvironment(): number | undefined {
  const text = process.env[LOG_RANK_ENV];
  if (text === undefined || !/^[0-7]$/.test(text)) return undefined;
  return Number(text);
}

/** The built-in one-way message by which the monitor tells a child its new log rank (SIGHUP). */
export const LOG_RANK_NOTE = "logRank";
/** What may come as a note unless the peer says otherwise: log lines. */
const DEFAULT_NOTES: readonly string[] = ["log"];

export class IpcPeer {
  private readonly handlers = new Map<string, Handler>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** Requests of the other process being answered now: bounded, as what it can make us do at once. */
  private answering = 0;
  /**
   * The most verbose level of log line the other side writes (a rank of LOG_RANK): lines above it are not
   * worth a message. Unknown: every line is sent.
   */
  private peerLogRank: number;

  constructor(
    private readonly channel: IpcChannel,
    private readonly opts: {
      /** Called with why a message was refused (it is then dropped). */
      onRefused: (reason: string) => void;
      /** Requests of ours awaiting an answer at once (default 4096). */
      maxPending?: number;
      /** Requests of the other process answered at once (default 256); past it they are refused. */
      maxAnswering?: number;
      /** The other side's log rank when known at the start (a child: LOG_RANK_ENV); default: every line. */
      logRank?: number;
      /** The requests the other side may send as notes, unanswered (default: "log" only). */
      notes?: readonly string[];
    },
  ) {
    this.peerLogRank = opts.logRank ?? 7;
    channel.on("message", (message, handle) => this.receive(message, handle));
    channel.on("disconnect", () => this.close(new IpcError("the other process went away")));
  }

  /** Answer requests of kind `op`, whose arguments must pass `check`. */
  handle<A>(
    op: string,
    check: Check<A>,
    run: (args: A, socket: net.Socket | undefined) => unknown,
    options: { takesSocket?: boolean } = {},
  ): void {
    this.handlers.set(op, { check, run: run as Handler["run"], takesSocket: options.takesSocket === true });
  }

  /**
   * Ask the other process; its answer must pass `check`. A socket goes along and is closed here, unless
   * `keepOpen` (the monitor keeps its copy of a socket it lends a worker).
   */
  request<R>(op: string, args: unknown, check: Check<R>, socket?: net.Socket, keepOpen = false): Promise<R> {
    if (this.closed) return Promise.reject(new IpcError("channel closed"));
    if (this.pending.size >= (this.opts.maxPending ?? 4096)) {
      return Promise.reject(new IpcError("too many requests in flight"));
    }
    const id = this.nextId;
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { check, resolve: resolve as Pending["resolve"], reject });
      this.post({ t: "req", id, op, args }, socket, keepOpen);
    });
  }

  /**
   * Tell the other process something that needs no answer (a log line, say): no reply comes back, and a
   * failure of its handler there is not reported (as the sender of a request it ignores would not look).
   */
  notify(op: string, args: unknown): void {
    if (this.closed) return;
    this.post({ t: "note", op, args });
  }

  /** Whether the other side writes log lines of this level (so that one is worth sending). */
  logs(level: string): boolean {
    return (LOG_RANK[level] ?? 0) <= this.peerLogRank;
  }

  /**
   * A log line for the monitor, as a note, and only when it writes lines of this level: the transport has
   * a debug line for every packet, and sending each cost more than the transfer itself.
   */
  log(level: string, message: string, conn?: number): void {
    if (this.logs(level)) this.notify("log", { ...(conn !== undefined ? { conn } : {}), level, message });
  }

  /** The monitor side: tell the child which log lines are worth sending from now on. */
  sendLogRank(rank: number): void {
    this.notify(LOG_RANK_NOTE, { rank });
  }

  close(err = new IpcError("channel closed")): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private post(message: Envelope, socket?: net.Socket, keepOpen = false): void {
    // The other process is gone: its "disconnect" may have come before anything listened (a child whose
    // monitor stopped while the child loaded) or be still to come. Node would report this send as an
    // "error" event on the process, which nothing listens to.
    if (this.channel.connected === false) return this.close(new IpcError("the other process went away"));
    try {
      if (socket) this.channel.send(message, socket, { keepOpen });
      else this.channel.send(message);
    } catch (err) {
      this.close(new IpcError(`could not send: ${(err as Error).message}`));
    }
  }

  private refuse(reason: string, handle: unknown): void {
    // A socket that came with a refused message is closed: nobody will serve it.
    if (handle && typeof (handle as net.Socket).destroy === "function") (handle as net.Socket).destroy();
    this.opts.onRefused(reason);
  }

  private receive(message: unknown, handle: unknown): void {
    if (this.closed) return;
    const m = message as Partial<Record<string, unknown>> | null;
    if (typeof m === "object" && m !== null && m.t === "note") return this.noted(m.op, m.args, handle);
    if (typeof m !== "object" || m === null || !Number.isInteger(m.id) || (m.id as number) < 1) {
      return this.refuse("message without a valid id", handle);
    }
    const socket = handle as net.Socket | undefined;
    if (m.t === "req") return void this.answer(m.id as number, m.op, m.args, socket);
    if (m.t === "res") return this.settle(m, handle);
    this.refuse(`message of unknown kind ${JSON.stringify(String(m.t)).slice(0, 40)}`, handle);
  }

  private async answer(
    id: number,
    op: unknown,
    args: unknown,
    socket: net.Socket | undefined,
  ): Promise<void> {
    const handler = typeof op === "string" ? this.handlers.get(op) : undefined;
    if (!handler) {
      this.refuse(`unknown request ${JSON.stringify(String(op)).slice(0, 60)}`, socket);
      return this.post({ t: "res", id, ok: false, error: "unknown request" });
    }
    if (socket && (!handler.takesSocket || typeof socket.destroy !== "function")) {
      this.refuse(`a handle came with ${op as string}, which takes none`, socket);
      socket = undefined;
    }
    if (this.answering >= (this.opts.maxAnswering ?? 256)) {
      this.refuse(`too many requests at once (${op as string})`, socket);
      return this.post({ t: "res", id, ok: false, error: "too many requests" });
    }
    let checked: unknown;
    try {
      checked = handler.check(args, op as string);
    } catch (err) {
      this.refuse(`malformed ${op as string} request: ${(err as Error).message}`, socket);
      return this.post({ t: "res", id, ok: false, error: "malformed request" });
    }
    this.answering++;
    try {
      const value = await handler.run(checked, socket);
      if (!this.closed) this.post({ t: "res", id, ok: true, value });
    } catch (err) {
      if (!this.closed) this.post({ t: "res", id, ok: false, error: (err as Error).message });
    } finally {
      this.answering--;
    }
  }

  private noted(op: unknown, args: unknown, handle: unknown): void {
    if (op === LOG_RANK_NOTE) {
      const rank = (args as { rank?: unknown } | null)?.rank;
      if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 0 || rank > 7) {
        return this.refuse("malformed log rank", handle);
      }
      this.peerLogRank = rank;
      return handle ? this.refuse("a handle came with a note", handle) : undefined;
    }
    const allowed = typeof op === "string" && (this.opts.notes ?? DEFAULT_NOTES).includes(op);
    const handler = allowed ? this.handlers.get(op) : undefined;
    if (!handler) return this.refuse(`unknown note ${JSON.stringify(String(op)).slice(0, 60)}`, handle);
    // A note never carries a socket: only requests pass them.
    if (handle) this.refuse(`a handle came with the note ${op as string}`, handle);
    if (this.answering >= (this.opts.maxAnswering ?? 256)) {
      return this.refuse(`too many requests at once (${op as string})`, undefined);
    }
    let checked: unknown;
    try {
      checked = handler.check(args, op as string);
    } catch (err) {
      return this.refuse(`malformed ${op as string} note: ${(err as Error).message}`, undefined);
    }
    this.answering++;
    let result: unknown;
    try {
      result = handler.run(checked, undefined);
    } catch {
      // Not answered by design: the sender of a note does not look at the outcome (see notify).
      result = undefined;
    }
    Promise.resolve(result)
      .catch(() => {}) // as above: a note's outcome goes nowhere
      .finally(() => this.answering--);
  }

  private settle(m: Partial<Record<string, unknown>>, handle: unknown): void {
    const p = this.pending.get(m.id as number);
    if (!p) return this.refuse(`answer to no request (${m.id as number})`, handle);
    this.pending.delete(m.id as number);
    if (m.ok === false) return p.reject(new IpcError(typeof m.error === "string" ? m.error : "failed"));
    if (m.ok !== true) return p.reject(new IpcError("malformed answer"));
    try {
      p.resolve(p.check(m.value, "answer"));
    } catch (err) {
      this.refuse(`malformed answer: ${(err as SchemaError).message}`, handle);
      p.reject(new IpcError("malformed answer"));
    }
  }
}
