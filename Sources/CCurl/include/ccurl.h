// libcurl for Swift: loaded with dlopen on first use (only pull and other registry work pay for
// loading it and the ~30 libraries it brings; every other swctr process starts without them),
// and typed wrappers for its variadic curl_easy_setopt/getinfo.
#ifndef SWCTR_CCURL_H
#define SWCTR_CCURL_H
#include <curl/curl.h>

/// Loads libcurl and runs curl_global_init once: 0, or -1 with `error` naming what is missing.
int swctr_curl_load(char *error, size_t error_size);

/// These call libcurl; swctr_curl_load must have succeeded.
CURL *swctr_curl_easy_init(void);
void swctr_curl_easy_cleanup(CURL *handle);
void swctr_curl_easy_reset(CURL *handle);
CURLcode swctr_curl_easy_perform(CURL *handle);
const char *swctr_curl_easy_strerror(CURLcode code);
struct curl_slist *swctr_curl_slist_append(struct curl_slist *list, const char *text);
void swctr_curl_slist_free_all(struct curl_slist *list);

CURLcode swctr_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode swctr_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode swctr_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode swctr_curl_setopt_write_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode swctr_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode swctr_curl_setopt_read_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode swctr_curl_setopt_header_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode swctr_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode swctr_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value);
#endif
