/* Making an image layer's files: see unpack_files.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unpack_files.h"

/* One file: created under its dir_fd (O_EXCL, never through a symlink),
 * written, then its owner (when set_owner: before the mode, as chown
 * clears set-id bits), its mode and its times.  0 or an errno. */
static int make_file(const struct lc_unpack_file *f, int set_owner)
{
    int fd = openat(f->dir_fd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    const char *p = f->data;
    size_t len = f->len;
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
    if (set_owner && fchown(fd, f->uid, f->gid) < 0)
        goto fail;
    if (fchmod(fd, f->mode & 07777) < 0)
        goto fail;
    struct timespec times[2] = {{f->mtime_sec, f->mtime_nsec}, {f->mtime_sec, f->mtime_nsec}};
    if (futimens(fd, times) < 0)
        goto fail;
    return close(fd) < 0 ? errno : 0;
fail:;
    int err = errno;
    close(fd);
    return err;
}

/* files[0..count) made in order.  Returns count, or the index of the
 * first that failed with its errno in *err (EEXIST: nothing was done for
 * it; after another error it may stay, partly written: the caller drops
 * the layer). */
long lc_unpack_files(const struct lc_unpack_file *files, size_t count, int set_owner, int *err)
{
    for (size_t i = 0; i < count; i++) {
        int e = make_file(&files[i], set_owner);
        if (e != 0) {
            *err = e;
            return (long)i;
        }
    }
    return (long)count;
}
