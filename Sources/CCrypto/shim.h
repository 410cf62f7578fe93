// SHA-256 through libcrypto's own low-level functions: the same hardware-accelerated block code
// as EVP, without the provider set-up EVP's first fetch costs (about 0.5 ms of every `swctr run`).
// OpenSSL 3 marks them deprecated; the declarations are taken without that mark.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
