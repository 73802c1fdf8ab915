/**
 * The options ssh_config(5) processing collects, before defaults: for each keyword the first value obtained
 * wins (readconf.c "only changed the first time it is set"), except the lists OpenSSH accumulates.
 */
import type { ForwardSpec } from "./sshConfigValues.js";

/** Where a setting came from. */
export interface SettingOrigin {
  readonly file: string;
  readonly line: number;
}

export interface PathEntry {
  readonly path: string;
  /** From the user's files or the command line (SSHCONF_USERCONF), which OpenSSH de-duplicates apart. */
  readonly userProvided: boolean;
}

export interface JumpSpec {
  readonly user?: string;
  readonly host: string;
  readonly port: number;
  /** The earlier hops, as written ("a,b" of "a,b,c"). */
  readonly extra?: string;
}

export class SshOptionStore {
  /** Single-valued settings by canonical lowercase keyword (and a few internal keys). */
  private readonly values = new Map<string, unknown>();
  private readonly origins = new Map<string, SettingOrigin>();
  readonly identityFiles: PathEntry[] = [];
  readonly certificateFiles: PathEntry[] = [];
  /** Local and dynamic forwards share a list, as in OpenSSH (dynamic ones connect to "socks"). */
  readonly localForwards: ForwardSpec[] = [];
  readonly remoteForwards: ForwardSpec[] = [];
  readonly sendEnv: string[] = [];
  readonly setEnv: string[] = [];

  has(key: string): boolean {
    return this.values.has(key);
  }

  get<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined;
  }

  /** Set unless already set; returns whether it was set. */
  setFirst(key: string, value: unknown, origin: SettingOrigin): boolean {
    if (this.values.has(key)) return false;
    this.values.set(key, value);
    this.origins.set(key, origin);
    return true;
  }

  /** Overwrite (the few places OpenSSH does: the hostname after expansion, defaults). */
  set(key: string, value: unknown, origin?: SettingOrigin): void {
    this.values.set(key, value);
    if (origin) this.origins.set(key, origin);
  }

  delete(key: string): void {
    this.values.delete(key);
  }

  origin(key: string): SettingOrigin | undefined {
    return this.origins.get(key);
  }

  /** Every keyword that was set, with where. */
  settings(): [string, SettingOrigin][] {
    return [...this.origins.entries()];
  }
}
