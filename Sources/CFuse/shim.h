// libfuse3's low-level API (3.12+ symbols), plus the few Linux calls the FUSE overlay needs that
// Swift's Glibc module does not show (xattrs, makedev); the _GNU_SOURCE ones are in CLinux.
#ifndef SWCTR_CFUSE_SHIM_H
#define SWCTR_CFUSE_SHIM_H
#define FUSE_USE_VERSION 312
#include <stddef.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static inline int swctr_fuse_mknod_whiteout(int dirfd, const char *path) {
    return mknodat(dirfd, path, S_IFCHR | 0, makedev(0, 0));
}
static inline int swctr_fuse_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev) {
    return mknodat(dirfd, path, mode, dev);
}
/// fuse_file_info's bit fields, set from Swift in one call.
static inline void swctr_fuse_file_flags(struct fuse_file_info *fi, int keep_cache, int direct_io, int cache_readdir) {
    fi->keep_cache = keep_cache ? 1 : 0;
    fi->direct_io = direct_io ? 1 : 0;
    fi->cache_readdir = cache_readdir ? 1 : 0;
}
/// One fd-backed buffer: what read replies with (libfuse splices it when the kernel allows).
static inline int swctr_fuse_reply_fd(fuse_req_t req, int fd, size_t size, off_t offset) {
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buf.buf[0].fd = fd;
    buf.buf[0].pos = offset;
    return fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}
/// Writes what the kernel sent (memory or a spliced pipe) to `fd` at `offset`.
static inline ssize_t swctr_fuse_write_buf(struct fuse_bufvec *in, int fd, off_t offset) {
    struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
    out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    out.buf[0].fd = fd;
    out.buf[0].pos = offset;
    return fuse_buf_copy(&out, in, FUSE_BUF_SPLICE_NONBLOCK);
}
#endif
