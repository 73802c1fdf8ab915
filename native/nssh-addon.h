/*
 * What nsshd's Node-API addons share besides the declarations of nssh-napi.h: throwing an Error with a
 * code, and taking a string argument, or an array of strings, as C strings.
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

#define ADDON_MAX_STRINGS 4096
#define ADDON_STRING_BYTES 131072

static inline void free_strings(char **list) {
  if (list == NULL) return;
  for (char **p = list; *p != NULL; p++) free(*p);
  free(list);
}

/* A JavaScript array of fewer than ADDON_MAX_STRINGS strings as a NULL-terminated malloc'd list, or NULL. */
static inline char **c_strings(napi_env env, napi_value array) {
  unsigned int n = 0;
  if (napi_get_array_length(env, array, &n) != 0 || n >= ADDON_MAX_STRINGS) return NULL;
  char **list = calloc(n + 1, sizeof *list);
  if (list == NULL) return NULL;
  for (unsigned int i = 0; i < n; i++) {
    napi_value element;
    if (napi_get_element(env, array, i, &element) != 0 ||
        (list[i] = addon_string(env, element, ADDON_STRING_BYTES)) == NULL) {
      free_strings(list);
      return NULL;
    }
  }
  return list;
}

#endif
