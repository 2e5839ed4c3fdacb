/* Child executor: see child.h and executor.c. */
#include "child.h"

void fd_path(char *buf, int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[16];
    int n = 0;
    unsigned int v = (unsigned int)fd;

    memcpy(buf, prefix, sizeof prefix - 1);
    buf += sizeof prefix - 1;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *buf++ = digits[--n];
    *buf = '\0';
}

/* Open `path` with every component, symlinks included, resolved as if
 * root_fd were "/": nothing can lead outside the root. */
int open_in_root(int root_fd, const char *path, int flags)
{
    struct lc_open_how how;
    int tries = 0;
    int fd;

    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = LC_RESOLVE_IN_ROOT | LC_RESOLVE_NO_MAGICLINKS;
    /* EAGAIN: a rename or mount somewhere on the system raced with a ".."
     * step; the kernel asks for a retry. */
    do {
        fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    } while (fd < 0 && errno == EAGAIN && ++tries < 1000);
    return fd;
}

/* Split "a/b/c" into the parent "a/b" (or "." ) and the name "c", in buf. */
int split_parent(const char *path, char *buf, const char **parent, const char **name)
{
    size_t len = strlen(path);
    size_t i;

    if (len == 0 || len >= PATH_MAX) {
        errno = len ? ENAMETOOLONG : EINVAL;
        return -1;
    }
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    i = len;
    while (i > 0 && buf[i - 1] != '/')
        i--;
    *name = buf + i;
    if (i == 0) {
        *parent = ".";
    } else {
        buf[i - 1] = '\0';
        *parent = buf[0] ? buf : "/";
    }
    return 0;
}

int open_parent_in_root(int root_fd, const char *path, char *buf, const char **name)
{
    const char *parent;

    if (split_parent(path, buf, &parent, name) < 0)
        return -1;
    return open_in_root(root_fd, parent, O_PATH | O_DIRECTORY);
}

/* Make every missing component of `path` inside the root (the last one a
 * regular file when is_file) and return an O_PATH fd for it. */
int make_path_in_root(int root_fd, const char *path, int is_file, int *dangling)
{
    char buf[PATH_MAX];
    char pbuf[PATH_MAX];
    size_t len = strlen(path);
    size_t i = 0;
    int fd;

    fd = open_in_root(root_fd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    while (i < len) {
        const char *name;
        char saved;
        int last, pfd, rc;
        size_t j;

        while (i < len && buf[i] == '/')
            i++;
        if (i >= len)
            break;
        while (i < len && buf[i] != '/')
            i++;
        for (j = i; j < len && buf[j] == '/'; j++)
            ;
        last = (j >= len);
        saved = buf[i];
        buf[i] = '\0';
        fd = open_in_root(root_fd, buf, O_PATH);
        if (fd >= 0) {
            close(fd);
            buf[i] = saved;
            continue;
        }
        if (errno != ENOENT)
            return -1;
        pfd = open_parent_in_root(root_fd, buf, pbuf, &name);
        if (pfd < 0)
            return -1;
        if (last && is_file) {
            rc = openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (rc >= 0)
                close(rc);
            else if (errno == EEXIST)
                rc = 0;
        } else {
            rc = mkdirat(pfd, name, 0755);
            if (rc < 0 && errno == EEXIST)
                rc = 0;
        }
        close(pfd);
        if (rc < 0)
            return -1;
        /* Still missing after creating it: a symlink whose target does not
         * exist inside the root.  It is refused, not followed. */
        fd = open_in_root(root_fd, buf, O_PATH);
        if (fd < 0) {
            if (errno == ENOENT)
                *dangling = 1;
            return -1;
        }
        close(fd);
        buf[i] = saved;
    }
    return open_in_root(root_fd, path, O_PATH);
}
