// Typed wrappers for libcurl's variadic curl_easy_setopt/getinfo, so Swift can call them.
#ifndef SWCTR_CCURL_H
#define SWCTR_CCURL_H
#include <curl/curl.h>

CURLcode swctr_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode swctr_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode swctr_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode swctr_curl_setopt_write_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode swctr_curl_setopt_header_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode swctr_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode swctr_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value);
CURLMcode swctr_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
#endif
