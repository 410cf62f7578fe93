// libarchive calls seventeen functions of libacl, the one library Debian ships only as a shared
// object. Linked as such, it is mapped and relocated at every start of swctr (about 0.05 ms), while
// only `swctr cp` and layer work ever touch ACLs. These definitions stand in for libacl's: the first
// call loads it with dlopen and forwards; without it, each call fails with ENOTSUP, which libarchive
// reports as it would an ACL the filesystem does not support.
#include "archive_acl_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

static void *acl_library(void) {
    static void *handle;
    void *loaded = __atomic_load_n(&handle, __ATOMIC_ACQUIRE);
    if (!loaded) {
        loaded = dlopen("libacl.so.1", RTLD_NOW | RTLD_LOCAL);
        if (loaded) __atomic_store_n(&handle, loaded, __ATOMIC_RELEASE);
    }
    return loaded;
}

static void *acl_function(void **slot, const char *name) {
    void *function = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!function) {
        void *library = acl_library();
        if (library) function = dlsym(library, name);
        if (function) __atomic_store_n(slot, function, __ATOMIC_RELEASE);
    }
    return function;
}

// libacl's types are pointers (acl_t, acl_entry_t, acl_permset_t) and integers (acl_type_t,
// acl_perm_t, acl_tag_t): declared here as such, its headers not being installed.
#define ACL_FORWARD(result, failed, name, parameters, arguments)                   \
    result name parameters {                                                        \
        static void *slot;                                                          \
        result (*function) parameters = (result (*) parameters)acl_function(&slot, #name); \
        if (!function) { errno = ENOTSUP; return failed; }                          \
        return function arguments;                                                  \
    }

ACL_FORWARD(void *, NULL, acl_init, (int count), (count))
ACL_FORWARD(int, -1, acl_free, (void *object), (object))
ACL_FORWARD(void *, NULL, acl_get_file, (const char *path, unsigned int type), (path, type))
ACL_FORWARD(void *, NULL, acl_get_fd, (int fd), (fd))
ACL_FORWARD(int, -1, acl_set_file, (const char *path, unsigned int type, void *acl), (path, type, acl))
ACL_FORWARD(int, -1, acl_set_fd, (int fd, void *acl), (fd, acl))
ACL_FORWARD(int, -1, acl_get_entry, (void *acl, int which, void **entry), (acl, which, entry))
ACL_FORWARD(int, -1, acl_create_entry, (void **acl, void **entry), (acl, entry))
ACL_FORWARD(int, -1, acl_get_tag_type, (void *entry, int *tag), (entry, tag))
ACL_FORWARD(int, -1, acl_set_tag_type, (void *entry, int tag), (entry, tag))
ACL_FORWARD(void *, NULL, acl_get_qualifier, (void *entry), (entry))
ACL_FORWARD(int, -1, acl_set_qualifier, (void *entry, const void *qualifier), (entry, qualifier))
ACL_FORWARD(int, -1, acl_get_permset, (void *entry, void **permset), (entry, permset))
ACL_FORWARD(int, -1, acl_get_perm, (void *permset, unsigned int perm), (permset, perm))
ACL_FORWARD(int, -1, acl_add_perm, (void *permset, unsigned int perm), (permset, perm))
ACL_FORWARD(int, -1, acl_clear_perms, (void *permset), (permset))
