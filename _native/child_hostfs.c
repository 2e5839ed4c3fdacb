/* Child executor: see child.h and executor.c.
 *
 * Entering the root with MS_MOVE + chroot (no pivot_root) leaves every host
 * mount in the container's mount namespace, out of reach under the new root
 * but still there.  The kernel lets a nested user namespace mount a fresh
 * procfs or sysfs only when one is already fully visible in the mount
 * namespace (mount_too_revealing): the host's would be, and the fresh mount
 * would show what the container's masked paths hide.  So before the move,
 * every procfs and sysfs outside the root is detached (after being made a
 * slave, so that nothing propagates to the host), or covered by an empty
 * read-only tmpfs where it cannot be detached. */
#include "child.h"

#define MOUNTINFO_LINE 8192 /* longer lines fail the step (ENAMETOOLONG) */
#define MAX_COVERED 64
#define MAX_ROUNDS 4096

struct lines {
    int fd;
    size_t len, pos;
    char buf[MOUNTINFO_LINE];
};

/* The next '\n'-terminated line (terminated in place): 1, 0 at the end, -1
 * on error. */
static int next_line(struct lines *l, char **line)
{
    for (;;) {
        char *nl = memchr(l->buf + l->pos, '\n', l->len - l->pos);
        ssize_t n;

        if (nl != NULL) {
            *nl = '\0';
            *line = l->buf + l->pos;
            l->pos = (size_t)(nl - l->buf) + 1;
            return 1;
        }
        if (l->pos == 0 && l->len == sizeof l->buf) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memmove(l->buf, l->buf + l->pos, l->len - l->pos);
        l->len -= l->pos;
        l->pos = 0;
        n = read(l->fd, l->buf + l->len, sizeof l->buf - l->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        l->len += (size_t)n;
    }
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *out = s;

    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

static int under(const char *path, const char *root, size_t root_len)
{
    return strncmp(path, root, root_len) == 0 && (path[root_len] == '\0' || path[root_len] == '/');
}

/* A mountinfo line of a whole procfs or sysfs outside ``root``: its mount
 * id and (unescaped, in place) mount point, or 0. */
static unsigned long revealing(char *line, const char *root, size_t root_len, char **mount_point)
{
    char *field[6], *p = line, *fstype, *end;
    unsigned long id = 0;
    int i;

    for (i = 0; i < 6; i++) {
        field[i] = p;
        p = strchr(p, ' ');
        if (p == NULL)
            return 0;
        *p++ = '\0';
    }
    /* optional fields, then "-", then the filesystem type */
    if (strncmp(p, "- ", 2) == 0) {
        fstype = p + 2;
    } else {
        fstype = strstr(p, " - ");
        if (fstype == NULL)
            return 0;
        fstype += 3;
    }
    end = strchr(fstype, ' ');
    if (end != NULL)
        *end = '\0';
    if (strcmp(field[3], "/") != 0 || (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0))
        return 0;
    unescape(field[4]);
    if (root_len > 1 && under(field[4], root, root_len))
        return 0;
    for (p = field[0]; *p >= '0' && *p <= '9'; p++)
        id = id * 10 + (unsigned long)(*p - '0');
    *mount_point = field[4];
    return id;
}

static int covered(const unsigned long *ids, int n, unsigned long id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* The first revealing mount not yet covered: 1 (id, mount point copied to
 * ``out``), 0 when there is none, -1 on error. */
static int find_revealing(int proc_self, const char *root, const unsigned long *done, int n_done,
                          unsigned long *id, char *out, size_t out_size)
{
    struct lines l;
    char *line, *mount_point = NULL;
    int r;

    l.fd = openat(proc_self, "mountinfo", O_RDONLY | O_CLOEXEC);
    if (l.fd < 0)
        return -1;
    l.len = l.pos = 0;
    while ((r = next_line(&l, &line)) > 0) {
        *id = revealing(line, root, strlen(root), &mount_point);
        if (*id == 0 || covered(done, n_done, *id))
            continue;
        if (strlen(mount_point) >= out_size) {
            errno = ENAMETOOLONG;
            r = -1;
            break;
        }
        memcpy(out, mount_point, strlen(mount_point) + 1);
        break;
    }
    close(l.fd);
    return r;
}

void hide_host_kernel_fs(struct child *c)
{
    char self[64], root[PATH_MAX], point[PATH_MAX];
    unsigned long done[MAX_COVERED], id;
    int n_done = 0, rounds = 0, proc_self, r;
    ssize_t n;

    fd_path(self, c->root_fd);
    n = readlink(self, root, sizeof root - 1);
    if (n < 0)
        fail(c, STAGE_RESOLVE);
    root[n] = '\0';
    /* The host's /proc is among what goes: keep a handle on this process's
     * entry (a detached mount stays usable through its open fds). */
    proc_self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc_self < 0)
        fail(c, STAGE_RESOLVE);
    while ((r = find_revealing(proc_self, root, done, n_done, &id, point, sizeof point)) > 0) {
        if (++rounds > MAX_ROUNDS) {
            errno = ELOOP;
            fail(c, STAGE_CALL);
        }
        if (mount(NULL, point, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
            if (errno != ENOENT)
                fail(c, STAGE_PROPAGATION);
            /* gone with a parent detached before: nothing to do */
        } else if (umount2(point, MNT_DETACH) == 0) {
            continue;
        } else if (errno != EINVAL && errno != EPERM) {
            fail(c, STAGE_CALL);
        } else if (mount("tmpfs", point, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555") <
                   0) {
            fail(c, STAGE_CALL);
        }
        if (n_done == MAX_COVERED) {
            errno = E2BIG;
            fail(c, STAGE_CALL);
        }
        done[n_done++] = id;
    }
    if (r < 0)
        fail(c, STAGE_RESOLVE);
    close(proc_self);
}
