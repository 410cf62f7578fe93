#include "ccurl.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} api;
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_error, sizeof load_error, "%s", dlerror());
        return;
    }
#define LOAD(field, symbol) \
    if (!(*(void **)&api.field = dlsym(library, symbol))) { snprintf(load_error, sizeof load_error, "libcurl has no %s", symbol); return; }
    LOAD(global_init, "curl_global_init")
    LOAD(easy_init, "curl_easy_init")
    LOAD(easy_cleanup, "curl_easy_cleanup")
    LOAD(easy_reset, "curl_easy_reset")
    LOAD(easy_perform, "curl_easy_perform")
    LOAD(easy_strerror, "curl_easy_strerror")
    LOAD(easy_setopt, "curl_easy_setopt")
    LOAD(easy_getinfo, "curl_easy_getinfo")
    LOAD(slist_append, "curl_slist_append")
    LOAD(slist_free_all, "curl_slist_free_all")
#undef LOAD
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) snprintf(load_error, sizeof load_error, "curl_global_init failed");
}

int swctr_curl_load(char *error, size_t error_size) {
    pthread_once(&load_once, load);
    if (load_error[0]) {
        snprintf(error, error_size, "%s", load_error);
        return -1;
    }
    return 0;
}

CURL *swctr_curl_easy_init(void) { return api.easy_init(); }
void swctr_curl_easy_cleanup(CURL *handle) { api.easy_cleanup(handle); }
void swctr_curl_easy_reset(CURL *handle) { api.easy_reset(handle); }
CURLcode swctr_curl_easy_perform(CURL *handle) { return api.easy_perform(handle); }
const char *swctr_curl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }
struct curl_slist *swctr_curl_slist_append(struct curl_slist *list, const char *text) { return api.slist_append(list, text); }
void swctr_curl_slist_free_all(struct curl_slist *list) { api.slist_free_all(list); }

CURLcode swctr_curl_setopt_long(CURL *handle, CURLoption option, long value) { return api.easy_setopt(handle, option, value); }
CURLcode swctr_curl_setopt_string(CURL *handle, CURLoption option, const char *value) { return api.easy_setopt(handle, option, value); }
CURLcode swctr_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) { return api.easy_setopt(handle, option, value); }
CURLcode swctr_curl_setopt_write_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *)) {
    return api.easy_setopt(handle, CURLOPT_WRITEFUNCTION, fn);
}
CURLcode swctr_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) { return api.easy_setopt(handle, option, value); }
CURLcode swctr_curl_setopt_read_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *)) {
    return api.easy_setopt(handle, CURLOPT_READFUNCTION, fn);
}
CURLcode swctr_curl_setopt_header_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *)) {
    return api.easy_setopt(handle, CURLOPT_HEADERFUNCTION, fn);
}
CURLcode swctr_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) { return api.easy_getinfo(handle, info, value); }
CURLcode swctr_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value) { return api.easy_getinfo(handle, info, value); }
