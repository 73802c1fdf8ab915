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
  send(message: unknown, sendHandle?: net.Socket, options?: { keepOpen?: boolean }): boolean;
  on(event: "message", listener: (message: unknown, handle?: unknown) => void): unknown;
  on(event: "disconnect", listener: () => void): unknown;
}

type Envelope =
  | { t: "req"; id: number; op: string; args: unknown }
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

export class IpcPeer {
  private readonly handlers = new Map<string, Handler>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** Requests of the other process being answered now: bounded, as what it can make us do at once. */
  private answering = 0;

  constructor(
    private readonly channel: IpcChannel,
    private readonly opts: {
      /** Called with why a message was refused (it is then dropped). */
      onRefused: (reason: string) => void;
      /** Requests of ours awaiting an answer at once (default 4096). */
      maxPending?: number;
      /** Requests of the other process answered at once (default 256); past it they are refused. */
      maxAnswering?: number;
    },
  ) {
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

  close(err = new IpcError("channel closed")): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private post(message: Envelope, socket?: net.Socket, keepOpen = false): void {
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
