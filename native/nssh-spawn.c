/*
 * nssh-spawn: a Node-API addon with posix_spawn(3), for nsshd's session processes to start a session's
 * program. Node's child_process forks, and a fork copies the page tables of a ~60 MiB Node process, which
 * the child then tears down again at exec: some 2 ms of CPU per program in a profile of the login rate,
 * more than anything else in a login. glibc's posix_spawn shares the parent's memory until the exec
 * (clone with CLONE_VM | CLONE_VFORK), so neither happens.
 *
 * The child gets what Node's spawn gives it: stdin, stdout and stderr on Unix socket pairs, signals 1-31 at
 * their default action and none blocked (Node ignores SIGPIPE, and an ignored signal survives exec), no
 * other descriptor of ours (all are close-on-exec), and `cwd` as its working folder. It stays in our
 * session and process group. One difference: glibc's posix_spawn leaves its two internal signals (32 and
 * 33, which sigfillset leaves out) ignored, where a fork of Node leaves them at their default; a program on
 * glibc installs its handlers for them again. Identity changes are not done here: a process that must
 * change user runs nssh-exec.
 *
 * Built by scripts/build-native.mjs with plain `cc -shared -fPIC`, as the other addons (nssh-napi.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nssh-addon.h"

static napi_value int_array(napi_env env, const int *values, unsigned int n) {
  napi_value array, element;
  if (napi_create_array_with_length(env, n, &array) != 0) return NULL;
  for (unsigned int i = 0; i < n; i++) {
    if (napi_create_int32(env, values[i], &element) != 0 || napi_set_element(env, array, i, element) != 0)
      return NULL;
  }
  return array;
}

/* The errno's name ("ENOENT") as the Error's code, as Node's own errors have (glibc >= 2.32). */
static const char *errno_code(int e) {
  const char *name = strerrorname_np(e);
  return name != NULL ? name : "ESPAWN";
}

/*
 * spawn(file: string, argv: string[], envp: string[], cwd: string): [pid, stdin, stdout, stderr], our ends
 * of the three socket pairs (close-on-exec). Throws an Error whose code names the errno when the program
 * cannot be started (glibc reports a failed exec or chdir from the child as posix_spawn's result).
 */
static napi_value do_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc < 4)
    return addon_fail(env, "EINVAL", "spawn(file, argv, envp, cwd): four arguments are needed");
  char *file = addon_string(env, args[0], ADDON_STRING_BYTES);
  char **argv = c_strings(env, args[1]);
  char **envp = c_strings(env, args[2]);
  char *cwd = addon_string(env, args[3], ADDON_STRING_BYTES);
  napi_value result = NULL;
  char message[512];
  int pairs[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  if (file == NULL || argv == NULL || argv[0] == NULL || envp == NULL || cwd == NULL) {
    addon_fail(env, "EINVAL", "spawn(file, argv, envp, cwd): strings without NUL, argv not empty");
    goto out;
  }
  for (int i = 0; i < 3; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]) != 0) {
      int e = errno;
      snprintf(message, sizeof message, "socketpair: %s", strerror(e));
      addon_fail(env, errno_code(e), message);
      goto out;
    }
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  int actions_made = posix_spawn_file_actions_init(&actions) == 0;
  int attr_made = actions_made && posix_spawnattr_init(&attr) == 0;
  int rc = attr_made ? 0 : ENOMEM;
  /* The child's ends become 0, 1 and 2 (dup2 clears close-on-exec on the copy). */
  for (int i = 0; i < 3 && rc == 0; i++) rc = posix_spawn_file_actions_adddup2(&actions, pairs[i][1], i);
  /* glibc >= 2.29; scripts/build-native.mjs refuses to build without its declaration. */
  if (rc == 0) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  if (rc == 0) rc = posix_spawn(&pid, file, &actions, &attr, argv, envp);
  if (attr_made) posix_spawnattr_destroy(&attr);
  if (actions_made) posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    snprintf(message, sizeof message, "spawn %s: %s", file, strerror(rc));
    addon_fail(env, errno_code(rc), message);
    goto out;
  }
  int values[4] = {pid, pairs[0][0], pairs[1][0], pairs[2][0]};
  result = int_array(env, values, 4);
  if (result != NULL) {
    for (int i = 0; i < 3; i++) pairs[i][0] = -1; /* ours now belong to the caller */
  } else {
    /* The caller never learns of this child: end and reap it here rather than leave a zombie. */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    addon_fail(env, "ENOMEM", "spawn: could not return the child's pid and descriptors");
  }
out:
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 2; j++) {
      if (pairs[i][j] >= 0) close(pairs[i][j]);
    }
  }
  free(file);
  free(cwd);
  free_strings(argv);
  free_strings(envp);
  return result;
}

/*
 * reap(pid: number): null while the child runs, else [code, signal, coreDumped] (code -1 for a signal,
 * signal 0 for an exit). Waits for this pid only: libuv reaps the children it started itself.
 */
static napi_value do_reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int pid = 0;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc < 1 ||
      napi_get_value_int32(env, args[0], &pid) != 0 || pid <= 0)
    return addon_fail(env, "EINVAL", "reap(pid): a pid is needed");
  int status = 0;
  pid_t got;
  do got = waitpid(pid, &status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    int e = errno;
    char message[128];
    snprintf(message, sizeof message, "waitpid(%d): %s", pid, strerror(e));
    return addon_fail(env, e == ECHILD ? "ECHILD" : "EWAIT", message);
  }
  napi_value result;
  if (got == 0) {
    napi_get_null(env, &result);
    return result;
  }
  int values[3] = {WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                   WIFSIGNALED(status) && WCOREDUMP(status) ? 1 : 0};
  napi_value array = int_array(env, values, 3);
  return array != NULL ? array : addon_fail(env, "ENOMEM", "reap: could not return the exit status");
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "spawn", (size_t)-1, do_spawn, NULL, &fn) != 0) return NULL;
  if (napi_set_named_property(env, exports, "spawn", fn) != 0) return NULL;
  if (napi_create_function(env, "reap", (size_t)-1, do_reap, NULL, &fn) != 0) return NULL;
  if (napi_set_named_property(env, exports, "reap", fn) != 0) return NULL;
  return exports;
}

__attribute__((visibility("default"))) int node_api_module_get_api_version_v1(void) { return 1; }
