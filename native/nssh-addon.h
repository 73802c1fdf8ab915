/*
 * What nsshd's Node-API addons share besides the declarations of nssh-napi.h: throwing an Error with a
 * code, and taking a string argument as a C string.
 */
#ifndef NSSH_ADDON_H
#define NSSH_ADDON_H
#include <stdlib.h>
#include <string.h>

#include "nssh-napi.h"

/* Throw an Error with `code` and `message`; returns NULL for the callback to return. */
static inline napi_value addon_fail(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

/* A JavaScript string of fewer than max_bytes bytes, without NUL inside, as a malloc'd C string; or NULL. */
static inline char *addon_string(napi_env env, napi_value value, size_t max_bytes) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != 0 || len >= max_bytes) return NULL;
  char *s = malloc(len + 1);
  if (s == NULL) return NULL;
  if (napi_get_value_string_utf8(env, value, s, len + 1, &len) != 0 || strlen(s) != len) {
    free(s);
    return NULL;
  }
  return s;
}

#endif
