/*
 * nssh-reexec: a tiny Node-API addon with execv(2), for nsshd to start again in the same process with the
 * V8 options its monitor needs (src/cli/nsshd.ts): V8 reads its heap sizes once, when the process starts,
 * and Node has no execve of its own before version 23. Like sshd's re-exec, the process keeps its pid, its
 * standard descriptors and its environment (Node writes process.env through to environ).
 *
 * And closeOnExecFrom(lowest): what sshd's closefrom() at its start is for. Descriptors nsshd inherited
 * from whatever started it would otherwise reach every program it runs (a user's shell, their commands):
 * Node and libuv open their own close-on-exec, and pass a child only what its stdio names.
 *
 * Built by scripts/build-native.mjs with plain `cc -shared -fPIC`, as nssh-chroot.c (the Node-API
 * declarations of nssh-napi.h, resolved against the node binary when process.dlopen loads the module).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nssh-addon.h"

/* execv(path: string, argv: string[]): does not return; throws an Error (code "EEXEC") when execv fails. */
static napi_value do_execv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc < 2)
    return addon_fail(env, "EINVAL", "execv(path, argv): two arguments are needed");
  char *path = addon_string(env, args[0], ADDON_STRING_BYTES);
  char **argv = c_strings(env, args[1]);
  char message[4224];
  if (path == NULL || argv == NULL || argv[0] == NULL) {
    snprintf(message, sizeof message, "execv(path, argv): strings without NUL, argv not empty");
  } else {
    /* Node marks its standard descriptors close-on-exec when it starts: they must survive, as the same
       process's stdin, stdout and stderr (a failure here shows as the new process's missing stderr). */
    for (int fd = 0; fd <= 2; fd++) {
      int flags = fcntl(fd, F_GETFD);
      if (flags != -1) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    execv(path, argv);
    snprintf(message, sizeof message, "execv(\"%.4000s\"): %s", path, strerror(errno));
  }
  free_strings(argv);
  free(path);
  return addon_fail(env, "EEXEC", message);
}

static int mark_close_on_exec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1 || (flags & FD_CLOEXEC)) return 0;
  return fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

/* closeOnExecFrom(lowest: number): marks every open descriptor >= lowest close-on-exec; returns how many
   were not yet. The open ones are listed from /proc/self/fd (without /proc, the first 65,536 are tried). */
static napi_value do_close_on_exec_from(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int lowest = 0;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc < 1 ||
      napi_get_value_int32(env, args[0], &lowest) != 0 || lowest < 3)
    return addon_fail(env, "EINVAL", "closeOnExecFrom(lowest): an integer of 3 or more is needed");
  int marked = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (dir != NULL) {
    int own = dirfd(dir);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
      char *end;
      long fd = strtol(entry->d_name, &end, 10);
      if (*end != '\0' || end == entry->d_name || fd < lowest || fd == own || fd > INT_MAX) continue;
      marked += mark_close_on_exec((int)fd);
    }
    closedir(dir);
  } else {
    for (int fd = lowest; fd < 65536; fd++) marked += mark_close_on_exec(fd);
  }
  napi_value result;
  if (napi_create_int32(env, marked, &result) != 0) return NULL;
  return result;
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "execv", (size_t)-1, do_execv, NULL, &fn) != 0) return NULL;
  if (napi_set_named_property(env, exports, "execv", fn) != 0) return NULL;
  if (napi_create_function(env, "closeOnExecFrom", (size_t)-1, do_close_on_exec_from, NULL, &fn) != 0)
    return NULL;
  if (napi_set_named_property(env, exports, "closeOnExecFrom", fn) != 0) return NULL;
  return exports;
}

__attribute__((visibility("default"))) int node_api_module_get_api_version_v1(void) { return 1; }
