/*
 * nssh-exec: start a session's program as its user, the way sshd's child does (session.c do_child):
 * initgroups, setgid, setuid, the home folder as working directory, argv[0] of our choosing ("-bash"
 * for a login shell). On a terminal it also does what sshd does for a PTY session before it drops
 * root: the tty is given to the user (group tty, mode 0620), SSH_TTY names it, the login is recorded in
 * utmp, wtmp and lastlog, and the login messages and "Last login: ..." are shown (sshd.8 LOGIN PROCESS).
 *
 * Usage: nssh-exec [options] -- FILE ARGV0 [ARG...]
 *   --user NAME --uid N --gid N   become this user (initgroups(NAME, N), setgid, setuid)
 *   --chdir DIR                   working directory; on failure, a message and "/" (as sshd)
 *   --chroot DIR                  ChrootDirectory: chroot(2) to DIR (checked by the caller, as sshd's
 *                                 safely_chroot) after the tty and login records and before the identity
 *                                 change; then --chdir and FILE are inside it, a missing home is silent and
 *                                 FILE failing to run says "FILE: reason" with status 1 (session.c do_child)
 *   --tty                         stdin is the session's terminal: chown it, set SSH_TTY
 *   --record HOST                 with --tty: write utmp/wtmp/lastlog login records for HOST
 *   --lastlog                     with --record: print "Last login: ..." from the previous record
 *   --messages                    print $NSSH_LOGIN_MESSAGES (then unset it) before anything else
 *   --motd FILE                   print this file (PrintMotd)
 *   --rc FILE                     run "/bin/sh FILE" as the user before the program (~/.ssh/rc, sshrc)
 *   --await-tty                   with --tty: wait (up to 2 s) for the monitor to give the tty to group tty,
 *                                 so that the program starts with sshd's tty modes (privilege separation)
 *   nssh-exec --logout TTY PID    write the utmp/wtmp logout record for a terminal (e.g. /dev/pts/3)
 *   nssh-exec --login-record TTY PID USER UID HOST
 *                                 for a session process that is already the user (privilege separation):
 *                                 give it the tty (group tty, 0620) and write utmp/wtmp/lastlog; run by root
 *   nssh-exec --last-login UID    print "Last login: ..." from lastlog (before --login-record replaces it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <lastlog.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#ifndef LASTLOG_FILE
#define LASTLOG_FILE "/var/log/lastlog"
#endif

static void die(const char *what) {
  fprintf(stderr, "nssh-exec: %s: %s\n", what, strerror(errno));
  exit(1);
}

static long parse_id(const char *s, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 0 || v > INT_MAX) {
    fprintf(stderr, "nssh-exec: bad %s: %s\n", what, s);
    exit(2);
  }
  return v;
}

/* utmp and lastlog fields are fixed-size and need no terminating NUL. */
static void copy_field(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  memset(dst, 0, size);
  memcpy(dst, src, n < size ? n : size);
}

/* "/dev/pts/3" -> "pts/3"; ut_id is the line's last four characters (OpenSSH loginrec.c line_abbrevname). */
static const char *tty_line(const char *tty) {
  return strncmp(tty, "/dev/", 5) == 0 ? tty + 5 : tty;
}

static void fill_utmp(struct utmp *ut, short type, const char *tty, pid_t pid, const char *user,
                      const char *host) {
  memset(ut, 0, sizeof *ut);
  const char *line = tty_line(tty);
  size_t l = strlen(line);
  ut->ut_type = type;
  ut->ut_pid = pid;
  copy_field(ut->ut_line, sizeof ut->ut_line, line);
  copy_field(ut->ut_id, sizeof ut->ut_id, l > sizeof ut->ut_id ? line + l - sizeof ut->ut_id : line);
  if (user) copy_field(ut->ut_user, sizeof ut->ut_user, user);
  if (host) copy_field(ut->ut_host, sizeof ut->ut_host, host);
  struct timeval tv;
  gettimeofday(&tv, NULL);
  ut->ut_tv.tv_sec = (int32_t)tv.tv_sec;
  ut->ut_tv.tv_usec = (int32_t)tv.tv_usec;
}

static void write_utmp(struct utmp *ut) {
  setutent();
  pututline(ut); /* fails quietly when there is no utmp file, as login(3) does */
  endutent();
  updwtmp(_PATH_WTMP, ut);
}

/* Reads the previous lastlog entry of uid into *prev (zeroed if none), then writes the new one. */
static void record_lastlog(uid_t uid, const char *tty, const char *host, struct lastlog *prev) {
  memset(prev, 0, sizeof *prev);
  int fd = open(LASTLOG_FILE, O_RDWR);
  if (fd < 0) return;
  off_t at = (off_t)uid * (off_t)sizeof(struct lastlog);
  if (pread(fd, prev, sizeof *prev, at) != (ssize_t)sizeof *prev) memset(prev, 0, sizeof *prev);
  struct lastlog now;
  memset(&now, 0, sizeof now);
  now.ll_time = (int32_t)time(NULL);
  copy_field(now.ll_line, sizeof now.ll_line, tty_line(tty));
  copy_field(now.ll_host, sizeof now.ll_host, host);
  if (pwrite(fd, &now, sizeof now, at) != (ssize_t)sizeof now)
    fprintf(stderr, "nssh-exec: writing %s: %s\n", LASTLOG_FILE, strerror(errno));
  close(fd);
}

static void print_last_login(const struct lastlog *prev) {
  if (prev->ll_time == 0) return;
  /* sshd.c store_lastlog_message: "Last login: <ctime>[ from <host>]". */
  time_t t = prev->ll_time;
  char when[64];
  strncpy(when, ctime(&t), sizeof when - 1);
  when[sizeof when - 1] = '\0';
  when[strcspn(when, "\n")] = '\0';
  char prev_host[sizeof prev->ll_host + 1];
  memcpy(prev_host, prev->ll_host, sizeof prev->ll_host);
  prev_host[sizeof prev->ll_host] = '\0';
  if (prev_host[0]) printf("Last login: %s from %s\n", when, prev_host);
  else printf("Last login: %s\n", when);
}

static void give_tty(const char *name, uid_t uid, gid_t user_gid) {
  /* sshd.c pty_setowner: the user's, group tty, mode 0620 (or 0600 without a tty group). */
  struct group *g = getgrnam("tty");
  gid_t tty_gid = g ? g->gr_gid : user_gid;
  mode_t mode = g ? 0620 : 0600;
  if (chown(name, uid, tty_gid) < 0) die("chown tty");
  if (chmod(name, mode) < 0) die("chmod tty");
}

static void print_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--logout") == 0) {
    struct utmp ut;
    fill_utmp(&ut, DEAD_PROCESS, argv[2], (pid_t)parse_id(argv[3], "pid"), NULL, NULL);
    write_utmp(&ut);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "--last-login") == 0) {
    uid_t who = (uid_t)parse_id(argv[2], "uid");
    struct lastlog prev;
    memset(&prev, 0, sizeof prev);
    int fd = open(LASTLOG_FILE, O_RDONLY);
    if (fd >= 0) {
      if (pread(fd, &prev, sizeof prev, (off_t)who * (off_t)sizeof prev) != (ssize_t)sizeof prev)
        memset(&prev, 0, sizeof prev);
      close(fd);
    }
    print_last_login(&prev);
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "--login-record") == 0) {
    const char *name = argv[2];
    /* Only a terminal of the user's: the caller checked it, and a pts path is all we take. */
    if (strncmp(name, "/dev/pts/", 9) != 0 || strstr(name, "..")) {
      fprintf(stderr, "nssh-exec: not a pseudo-terminal: %s\n", name);
      return 2;
    }
    uid_t who = (uid_t)parse_id(argv[5], "uid");
    /* Through a descriptor, and only if it is a terminal the user already owns: a path checked and then
       chowned could name another user's terminal by then (the user may close theirs and it be reused). */
    int fd = open(name, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) die("open tty");
    struct stat st;
    if (fstat(fd, &st) < 0) die("fstat tty");
    if (!S_ISCHR(st.st_mode) || st.st_uid != who) {
      fprintf(stderr, "nssh-exec: %s is not a terminal of uid %u\n", name, (unsigned)who);
      return 2;
    }
    struct group *g = getgrnam("tty");
    struct passwd *pw = getpwuid(who);
    if (fchown(fd, who, g ? g->gr_gid : (pw ? pw->pw_gid : (gid_t)who)) < 0) die("chown tty");
    if (fchmod(fd, g ? 0620 : 0600) < 0) die("chmod tty");
    close(fd);
    struct utmp ut;
    fill_utmp(&ut, USER_PROCESS, name, (pid_t)parse_id(argv[3], "pid"), argv[4], argv[6]);
    write_utmp(&ut);
    struct lastlog prev;
    record_lastlog(who, name, argv[6], &prev);
    return 0;
  }
  const char *user = NULL, *dir = NULL, *host = NULL, *motd = NULL, *rc = NULL, *root = NULL;
  long uid = -1, gid = -1;
  int tty = 0, lastlog = 0, messages = 0, await_tty = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "--tty") == 0) tty = 1;
    else if (strcmp(a, "--await-tty") == 0) await_tty = 1;
    else if (strcmp(a, "--lastlog") == 0) lastlog = 1;
    else if (strcmp(a, "--messages") == 0) messages = 1;
    else if (!has_value) break;
    else if (strcmp(a, "--user") == 0) user = argv[++i];
    else if (strcmp(a, "--uid") == 0) uid = parse_id(argv[++i], "uid");
    else if (strcmp(a, "--gid") == 0) gid = parse_id(argv[++i], "gid");
    else if (strcmp(a, "--chdir") == 0) dir = argv[++i];
    else if (strcmp(a, "--chroot") == 0) root = argv[++i];
    else if (strcmp(a, "--record") == 0) host = argv[++i];
    else if (strcmp(a, "--motd") == 0) motd = argv[++i];
    else if (strcmp(a, "--rc") == 0) rc = argv[++i];
    else break;
  }
  if (i + 2 > argc || strcmp(argv[i - 1], "--") != 0) {
    fprintf(stderr, "usage: nssh-exec [options] -- FILE ARGV0 [ARG...]\n");
    return 2;
  }
  const char *file = argv[i];
  char **child_argv = argv + i + 1;
  if ((uid >= 0) != (gid >= 0) || (uid >= 0 && !user)) {
    fprintf(stderr, "nssh-exec: --user, --uid and --gid go together\n");
    return 2;
  }

  if (tty) {
    const char *name = ttyname(0);
    if (!name) die("ttyname");
    setenv("SSH_TTY", name, 1);
    if (uid >= 0) give_tty(name, (uid_t)uid, (gid_t)gid);
    struct group *ttygrp = await_tty ? getgrnam("tty") : NULL;
    for (int i = 0; ttygrp && i < 200; i++) {
      struct stat st;
      if (stat(name, &st) == 0 && st.st_gid == ttygrp->gr_gid) break;
      struct timespec pause = {0, 10 * 1000 * 1000};
      nanosleep(&pause, NULL);
    }
    const char *msg = getenv("NSSH_LOGIN_MESSAGES");
    if (messages && msg) fputs(msg, stdout);
    if (host) {
      struct utmp ut;
      fill_utmp(&ut, USER_PROCESS, name, getpid(), user ? user : getenv("USER"), host);
      write_utmp(&ut);
      struct lastlog prev;
      record_lastlog(uid >= 0 ? (uid_t)uid : getuid(), name, host, &prev);
      if (lastlog) print_last_login(&prev);
    }
  } else if (messages) {
    const char *msg = getenv("NSSH_LOGIN_MESSAGES");
    if (msg) fputs(msg, stdout);
  }
  unsetenv("NSSH_LOGIN_MESSAGES");
  if (motd) print_file(motd);
  fflush(stdout);

  if (uid >= 0) {
    if (initgroups(user, (gid_t)gid) < 0) die("initgroups");
    if (setgid((gid_t)gid) < 0) die("setgid");
  }
  if (root) {
    /* session.c do_setusercontext: the groups from the system's database first, then safely_chroot (into
       the directory, chroot, "/" of the new root), then setuid. */
    if (root[0] != '/') {
      fprintf(stderr, "nssh-exec: chroot path does not begin at root\n");
      return 1;
    }
    if (chdir(root) < 0) {
      fprintf(stderr, "Unable to chdir to chroot path \"%s\": %s\n", root, strerror(errno));
      return 1;
    }
    if (chroot(root) < 0) {
      fprintf(stderr, "chroot(\"%s\"): %s\n", root, strerror(errno));
      return 1;
    }
    if (chdir("/") < 0) die("chdir / after chroot");
  }
  if (uid >= 0) {
    if (setuid((uid_t)uid) < 0) die("setuid");
    /* Paranoia, as sshd permanently_set_uid: root must be gone for good. */
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
      fprintf(stderr, "nssh-exec: could still become root after dropping privileges\n");
      return 1;
    }
  }
  if (dir && chdir(dir) < 0) {
    /* session.c do_child suppresses the missing home warning in a chroot (and stays at its "/"). */
    if (!root) fprintf(stderr, "Could not chdir to home directory %s: %s\n", dir, strerror(errno));
    if (chdir("/") < 0) die("chdir /");
  }
  if (rc) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      execl("/bin/sh", "sh", rc, (char *)NULL);
      _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  execv(file, child_argv);
  if (root) {
    /* session.c do_child: perror(shell); exit(1). */
    fprintf(stderr, "%s: %s\n", file, strerror(errno));
    return 1;
  }
  fprintf(stderr, "nssh-exec: %s: %s\n", file, strerror(errno));
  return 127;
}
