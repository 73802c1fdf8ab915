/*
 * nssh-chroot: a tiny Node-API addon for nsshd's ChrootDirectory (sshd_config(5); sshd's session.c
 * safely_chroot): Node has no chroot(2). It exports one function, chroot(path): chdir(path), chroot(path),
 * chdir("/"), as sshd does (the working directory must not be left outside the new root). The caller (root)
 * checks the path's ownership and modes first, and drops privileges after.
 *
 * Built by scripts/build-native.mjs with plain `cc -shared -fPIC`: no node headers are needed, the few
 * Node-API declarations used are written out in nssh-napi.h and resolve against the node binary when
 * process.dlopen loads the module (Node finds it by the napi_register_module_v1 symbol).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nssh-addon.h"

#define PATH_BYTES 4096

/* chroot(path: string): undefined; throws an Error whose code is the errno name's stand-in "ECHROOT". */
static napi_value do_chroot(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1)
    return addon_fail(env, "EINVAL", "chroot(path): a path is needed");
  char path[PATH_BYTES];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != 0)
    return addon_fail(env, "EINVAL", "chroot(path): the path must be a string");
  if (len == 0 || len >= sizeof path - 1 || path[0] != '/' || strlen(path) != len)
    return addon_fail(env, "EINVAL", "chroot(path): an absolute path without NUL is needed");
  char message[PATH_BYTES + 128];
  if (chdir(path) == -1) {
    snprintf(message, sizeof message, "Unable to chdir to chroot path \"%s\": %s", path, strerror(errno));
    return addon_fail(env, "ECHROOT", message);
  }
  if (chroot(path) == -1) {
    snprintf(message, sizeof message, "chroot(\"%s\"): %s", path, strerror(errno));
    return addon_fail(env, "ECHROOT", message);
  }
  if (chdir("/") == -1) {
    snprintf(message, sizeof message, "chdir(/) after chroot: %s", strerror(errno));
    return addon_fail(env, "ECHROOT", message);
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "chroot", (size_t)-1, do_chroot, NULL, &fn) != 0) return NULL;
  if (napi_set_named_property(env, exports, "chroot", fn) != 0) return NULL;
  return exports;
}

__attribute__((visibility("default"))) int node_api_module_get_api_version_v1(void) { return 1; }
