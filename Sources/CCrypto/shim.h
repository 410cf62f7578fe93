// SHA-256 from nettle, which libarchive links anyway: the SHA-NI block code where the CPU has it.
// libcrypto's was about 10% faster at hashing (1.7 against 1.55 GB/s here) but cost every start of
// the binary its CPU probe (run from its .init section; CPUID is slow in a virtual machine).
#include <nettle/sha2.h>
