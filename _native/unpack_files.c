/* Making an image layer's files: see unpack_files.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unpack_files.h"

/* Create `name` under `dir_fd` (O_EXCL, never through a symlink) holding
 * the `len` bytes of `data`; then its owner (when `set_owner`: before the
 * mode, as chown clears set-id bits), its mode and its times.  0, or
 * -errno (-EEXIST with nothing done when `name` exists; after another
 * failure the file may stay, partly written: the caller drops the layer). */
int lc_unpack_file(int dir_fd, const char *name, const void *data, size_t len, unsigned int mode,
                   int set_owner, unsigned int uid, unsigned int gid, long long mtime_sec, long mtime_nsec)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += n;
        len -= (size_t)n;
    }
    if (set_owner && fchown(fd, uid, gid) < 0)
        goto fail;
    if (fchmod(fd, mode & 07777) < 0)
        goto fail;
    struct timespec times[2] = {{mtime_sec, mtime_nsec}, {mtime_sec, mtime_nsec}};
    if (futimens(fd, times) < 0)
        goto fail;
    if (close(fd) < 0)
        return -errno;
    return 0;
fail:;
    int err = errno;
    close(fd);
    return -err;
}
