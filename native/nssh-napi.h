/*
 * The few Node-API types and calls nsshd's addons use (node_api.h, js_native_api.h; ABI-stable since
 * Node-API 1), written out so that they build with plain `cc -shared -fPIC` and no node headers: the calls
 * resolve against the node binary when process.dlopen loads the module.
 */
#ifndef NSSH_NAPI_H
#define NSSH_NAPI_H
#include <stddef.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

extern napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t *argc, napi_value *argv,
                                    napi_value *this_arg, void **data);
extern napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char *buf, size_t bufsize,
                                              size_t *result);
extern napi_status napi_get_array_length(napi_env env, napi_value value, unsigned int *result);
extern napi_status napi_get_element(napi_env env, napi_value object, unsigned int index, napi_value *result);
extern napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb,
                                        void *data, napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name,
                                           napi_value value);
extern napi_status napi_throw_error(napi_env env, const char *code, const char *msg);
extern napi_status napi_get_undefined(napi_env env, napi_value *result);
extern napi_status napi_get_null(napi_env env, napi_value *result);
extern napi_status napi_get_value_int32(napi_env env, napi_value value, int *result);
extern napi_status napi_create_int32(napi_env env, int value, napi_value *result);
extern napi_status napi_create_array_with_length(napi_env env, size_t length, napi_value *result);
extern napi_status napi_set_element(napi_env env, napi_value object, unsigned int index, napi_value value);

#endif
