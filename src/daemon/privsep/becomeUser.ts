/**
 * A spare session process, started as root, becomes the login user as its first act when the monitor
 * assigns it one (sshd's do_setusercontext: initgroups, setgid, setuid, in that order, and a check that the
 * way back to root is closed). The groups come from the monitor's account lookup (getgrouplist).
 */
import { SshError } from "../../wire/index.js";

export interface UserIdentity {
  uid: number;
  gid: number;
  /** Supplementary groups, as initgroups(3) would set them. */
  groups: number[];
}

export function becomeUser(id: UserIdentity): void {
  const p = process as NodeJS.Process & {
    setgroups?: (groups: number[]) => void;
    setgid?: (id: number) => void;
    setuid?: (id: number) => void;
    getuid?: () => number;
    geteuid?: () => number;
    getegid?: () => number;
  };
  if (!p.setgroups || !p.setgid || !p.setuid) throw new SshError("UNSUPPORTED", "no setuid on this platform");
  if (p.geteuid?.() === id.uid && id.uid !== 0) return; // not started as root: nothing to change
  p.setgroups([...new Set([id.gid, ...id.groups])]);
  p.setgid(id.gid);
  p.setuid(id.uid);
  if (id.uid !== 0) {
    // As sshd's permanently_set_uid: make sure root cannot be regained.
    let regained = false;
    try {
      p.setuid(0);
      regained = true;
    } catch {
      regained = false;
    }
    if (regained || p.getuid?.() !== id.uid || p.geteuid?.() !== id.uid || p.getegid?.() !== id.gid) {
      throw new SshError("PROTOCOL", `could not drop privileges to uid ${id.uid}`);
    }
  }
}
