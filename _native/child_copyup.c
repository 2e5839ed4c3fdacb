/* Child executor: see child.h and executor.c.
 *
 * tmpcopyup: what a directory held before a tmpfs was mounted over it is
 * copied into the tmpfs.  Only *at() calls relative to directory fds, none
 * of which follows a symlink: the old tree is read through an fd opened
 * before the mount, the new one written through an fd of the new mount.
 * Everything lives on the stack: one getdents64 buffer a level (the depth
 * is bounded: ELOOP beyond it), one copy buffer and one link buffer for the
 * whole walk. */
#include "child.h"

#include <sys/sendfile.h>
#include <sys/vfs.h>

#ifndef SYS_getdents64
#define SYS_getdents64 217
#endif

#define LC_TMPFS_MAGIC 0x01021994

struct lc_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

struct copy_ctx {
    char link[PATH_MAX];
    char buf[8192];
};

static int copy_contents(struct copy_ctx *x, int src, int dst)
{
    ssize_t n, off, w;

    /* sendfile copies in the kernel; where a file system cannot, a read and
     * write loop goes on from the same offset. */
    for (;;) {
        n = sendfile(dst, src, NULL, 1 << 30);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS))
            break;
        if (n <= 0)
            return (int)n;
    }
    for (;;) {
        do {
            n = read(src, x->buf, sizeof x->buf);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            return (int)n;
        for (off = 0; off < n; off += w) {
            do {
                w = write(dst, x->buf + off, (size_t)(n - off));
            } while (w < 0 && errno == EINTR);
            if (w <= 0) {
                if (w == 0)
                    errno = EIO;
                return -1;
            }
        }
    }
}

/* Owner, mode and times of a copied file, dir or node (fd >= 0: through
 * it).  chown first: it clears the set-id bits that chmod then restores. */
static int copy_attrs(int fd, int dir, const char *name, const struct stat *st)
{
    struct timespec times[2];

    times[0] = st->st_atim;
    times[1] = st->st_mtim;
    if (fd >= 0) {
        if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0)
            return -1;
        return futimens(fd, times);
    }
    if (fchownat(dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    /* A node just made in the new tmpfs, never a symlink: fchmodat has no
     * AT_SYMLINK_NOFOLLOW before fchmodat2. */
    if (!S_ISLNK(st->st_mode) && fchmodat(dir, name, st->st_mode & 07777, 0) < 0)
        return -1;
    return utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW);
}

/* The end of a directory's or a file's copy whose contents gave rc:
 * its attributes (when the contents were copied), then both fds closed. */
static int finish_copy(int rc, int src, int dst, const struct stat *st)
{
    if (rc == 0)
        rc = copy_attrs(dst, -1, NULL, st);
    close(src);
    close(dst);
    return rc;
}

static int copy_dir(struct copy_ctx *x, int from, int to, int depth);

static int copy_entry(struct copy_ctx *x, int from, int to, const char *name, int depth)
{
    struct stat st;
    int src, dst;
    ssize_t n;

    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
        if (depth >= LC_COPY_UP_DEPTH) {
            errno = ELOOP;
            return -1;
        }
        if (mkdirat(to, name, 0700) < 0)
            return -1;
        src = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0)
            return -1;
        dst = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0) {
            close(src);
            return -1;
        }
        return finish_copy(copy_dir(x, src, dst, depth + 1), src, dst, &st);
    case S_IFREG:
        /* O_NONBLOCK: should it have become a fifo since the fstatat, the
         * open does not wait for a writer (and fstat below refuses it). */
        src = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (src < 0)
            return -1;
        if (fstat(src, &st) < 0) {
            close(src);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) { /* replaced since the fstatat */
            close(src);
            errno = EAGAIN;
            return -1;
        }
        dst = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dst < 0) {
            close(src);
            return -1;
        }
        return finish_copy(copy_contents(x, src, dst), src, dst, &st);
    case S_IFLNK:
        n = readlinkat(from, name, x->link, sizeof x->link);
        if (n < 0)
            return -1;
        if ((size_t)n >= sizeof x->link) {
            errno = ENAMETOOLONG;
            return -1;
        }
        x->link[n] = '\0';
        if (symlinkat(x->link, to, name) < 0)
            return -1;
        return copy_attrs(-1, to, name, &st);
    default: /* fifos, sockets, character and block devices */
        if (mknodat(to, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0)
            return -1;
        return copy_attrs(-1, to, name, &st);
    }
}

static int copy_dir(struct copy_ctx *x, int from, int to, int depth)
{
    char dents[1024];
    long n, off;

    for (;;) {
        n = syscall(SYS_getdents64, from, dents, sizeof dents);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        for (off = 0; off < n;) {
            const struct lc_dirent64 *d = (const struct lc_dirent64 *)(dents + off);
            const char *name = d->d_name;

            off += d->d_reclen;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
                continue;
            if (copy_entry(x, from, to, name, depth) < 0)
                return -1;
        }
    }
}

/* Copy what `old_dir` (an fd opened before the mount) holds into the new
 * mount `new_dir`; not the attributes of `old_dir` itself. */
int copy_up(int old_dir, int new_dir)
{
    struct copy_ctx x;

    return copy_dir(&x, old_dir, new_dir, 0);
}

/* The new mount at the target, open for reading: it must be a tmpfs other
 * than the directory below it (`old_dir`), or a rename raced the mount. */
int open_copy_up_target(int root_fd, const char *path, int old_dir)
{
    struct statfs sfs;
    struct stat old_st, new_st;
    int fd = open_in_root(root_fd, path, O_RDONLY | O_DIRECTORY);

    if (fd < 0)
        return -1;
    if (fstat(old_dir, &old_st) < 0 || fstat(fd, &new_st) < 0 || fstatfs(fd, &sfs) < 0) {
        close(fd);
        return -1;
    }
    if (sfs.f_type != LC_TMPFS_MAGIC || new_st.st_dev == old_st.st_dev) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}
