/* The child-side step executor and the clone that starts it.
 *
 * Between clone and execve the child runs only this file: raw syscalls and
 * async-signal-safe libc calls, no malloc, no stdio, no Python.  Everything
 * it needs (paths, flags, argv, envp, device numbers) was prepared by the
 * parent.  A failing step sends one fixed-size record (step index, errno,
 * stage) on the close-on-exec sync socket and _exits; EOF on that socket
 * without a record means execve succeeded.
 *
 * Field use per op (s1..s4 strings, n1..n3 numbers):
 *   SETNS            n1 fd, n2 nstype
 *   UNSHARE          n1 flags
 *   FORK             n1 extra clone flags; the new process is a sibling of
 *                    this one (CLONE_PARENT), this one reports its pid, exits
 *   WAIT_PARENT      -
 *   LOOPBACK_UP      -
 *   ROOT_PROPAGATION n1 propagation flags for "/" (MS_REC|MS_SLAVE ...)
 *   ROOT_TMPFS       s1 mount point on the host, s2 tmpfs data, mflags
 *   ROOT_BIND        s1 root directory on the host
 *   ROOT_OVERLAY     s1 mount point on the host, s2 overlay data, mflags;
 *                    LC_F_THROWAWAY: first a tmpfs there (s3 its data) with
 *                    upper/, work/ and root/, the overlay going on s4
 *   MOUNT            s1 target inside the root, s2 source, s3 fstype, s4 data,
 *                    mflags, n1 propagation, n2 mount_setattr attr_set,
 *                    n3 remount flags where mount_setattr is missing,
 *                    flags LC_F_FILE / LC_F_RECURSIVE / LC_F_BIND
 *   MKNOD            s1 path inside the root, n1 mode, n2 dev
 *   SYMLINK          s1 link contents, s2 path inside the root
 *   PIVOT_ROOT       flags LC_F_NO_PIVOT, LC_F_PIVOT_ONLY (no chroot fallback)
 *   REMOUNT_ROOT_RO  -
 *   SETHOSTNAME      s1
 *   SETDOMAINNAME    s1
 *   SETUP_FDS        uses args->stdio and args->keep_fds
 *   SETGROUPS        buf gid_t[n1]
 *   SETGID / SETUID  n1
 *   CHDIR            s1
 *   UMASK            n1
 *   WAIT_START       -
 *   EXEC             uses args->exec_paths, argv, envp
 *   JOIN_CGROUP      n1 fd of a cgroup.procs file: this process moves
 *                    itself in (first step: no user code runs outside)
 *   KEEPCAPS         n1 0/1: PR_SET_KEEPCAPS (permitted caps survive setuid)
 *   DROP_BOUNDING    n1 mask to keep, n2 last capability of this kernel
 *   CAPSET           n1 effective, n2 permitted, n3 inheritable masks
 *   AMBIENT          n1 mask to raise, n2 last capability
 *   NO_NEW_PRIVS     -
 *   RLIMIT           n1 resource, n2 soft, n3 hard
 *   WRITE_FILE       s1 path (inside the root with LC_F_IN_ROOT), s2 data
 *   MASK_PATH        s1 path inside the root: a read-only tmpfs over a
 *                    directory, /dev/null over anything else; absent: skip
 *   READONLY_PATH    s1 path inside the root, bound read-only; absent: skip
 *   SECCOMP          buf sock_filter[n1], n2 seccomp(2) flags
 *   WAIT_ACCEPT      n1 a listening unix socket (bound by the parent to a
 *                    path in the state dir): report READY, wait for GO (the
 *                    state is on disk; EOF: the creator died), then for a
 *                    connection from whoever starts the container (any
 *                    process); failures from here on are reported to it too
 *   TTY              open a pty in the container's /dev/ptmx, send the master
 *                    to the parent, become a session leader with the pty as
 *                    controlling terminal; SETUP_FDS then puts it on 0/1/2
 *   INIT             fork: the new process goes on to exec the program; this
 *                    one stays PID 1, reaps every child, forwards signals
 *                    to the program and exits with its status
 *   NOT_DUMPABLE     -: no ptrace, no /proc/<pid>/mem|exe|environ for anyone
 *                    else until execve (a process joining a running container
 *                    is a copy of the caller until then: CVE-2019-5736)
 *   PREOPEN          s1 host path opened O_PATH into args->slots[slot]
 *                    (a MOUNT with slot >= 0 binds from that fd: the
 *                    lookup was done before the credentials changed)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "lc_native.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define LC_CLONE_NEWTIME 0x00000080UL
#define LC_RESOLVE_NO_MAGICLINKS 0x02
#define LC_RESOLVE_IN_ROOT 0x10

/* Stages reported with a failing step, so the parent can say what failed. */
#define STAGE_RESOLVE 1
#define STAGE_CALL 2
#define STAGE_ATTR 3
#define STAGE_PROPAGATION 4
#define STAGE_REOPEN 5
#define STAGE_DANGLING 6

struct lc_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

struct lc_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

struct lc_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

struct child {
    const struct lc_spawn_args *a;
    int sync_fd;
    int root_fd;
    int step;
    int start_fd; /* the starter's connection (WAIT_ACCEPT), or -1 */
    int tty_fd;   /* the pty's terminal side (TTY), or -1 */
};

/* ---- reporting ---------------------------------------------------------- */

static void send_msg(int fd, int kind, int step, int err, int value)
{
    struct lc_msg m;
    m.kind = kind;
    m.step = step;
    m.err = err;
    m.value = value;
    while (send(fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

__attribute__((noreturn)) static void fail(struct child *c, int stage)
{
    int err = errno ? errno : EIO;
    send_msg(c->sync_fd, LC_MSG_ERROR, c->step, err, stage);
    if (c->start_fd >= 0)
        send_msg(c->start_fd, LC_MSG_ERROR, c->step, err, stage);
    _exit(127);
}

/* Block until the parent sends `expect`; a closed socket means the parent
 * is gone, so there is nothing left to do. */
static void wait_for(struct child *c, int announce, int expect)
{
    struct lc_msg m;
    ssize_t n;

    send_msg(c->sync_fd, announce, c->step, 0, 0);
    do {
        n = recv(c->sync_fd, &m, sizeof m, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        _exit(126); /* the parent is gone: nobody to tell */
    if (n != (ssize_t)sizeof m || m.kind != expect) {
        errno = EPROTO;
        fail(c, 0);
    }
}

/* ---- paths -------------------------------------------------------------- */

static void fd_path(char *buf, int fd)
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
static int open_in_root(int root_fd, const char *path, int flags)
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
static int split_parent(const char *path, char *buf, const char **parent, const char **name)
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

static int open_parent_in_root(int root_fd, const char *path, char *buf, const char **name)
{
    const char *parent;

    if (split_parent(path, buf, &parent, name) < 0)
        return -1;
    return open_in_root(root_fd, parent, O_PATH | O_DIRECTORY);
}

/* Make every missing component of `path` inside the root (the last one a
 * regular file when is_file) and return an O_PATH fd for it. */
static int make_path_in_root(int root_fd, const char *path, int is_file, int *dangling)
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

/* ---- steps -------------------------------------------------------------- */

static void set_mount_attrs(struct child *c, const struct lc_step *s)
{
    struct lc_mount_attr attr;
    char target[64];
    int fd = open_in_root(c->root_fd, s->s1, O_PATH);
    unsigned int at = AT_EMPTY_PATH;

    if (fd < 0)
        fail(c, STAGE_REOPEN);
    if (s->flags & LC_F_RECURSIVE)
        at |= AT_RECURSIVE;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = (uint64_t)s->n2;
    if (syscall(SYS_mount_setattr, fd, "", at, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_ATTR);
        /* Kernels before 5.12: a plain (non-recursive) remount. */
        fd_path(target, fd);
        if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | (unsigned long)s->n3, NULL) < 0)
            fail(c, STAGE_ATTR);
    }
    close(fd);
}

static void do_mount(struct child *c, const struct lc_step *s)
{
    char target[64];
    char source[64];
    const char *src = s->s2;
    int src_fd = -1;
    int dangling = 0;
    int fd = make_path_in_root(c->root_fd, s->s1, s->flags & LC_F_FILE, &dangling);

    if (fd < 0)
        fail(c, dangling ? STAGE_DANGLING : STAGE_RESOLVE);
    fd_path(target, fd);
    if (s->slot >= 0 && s->slot < c->a->nslots && (src_fd = c->a->slots[s->slot]) >= 0) {
        fd_path(source, src_fd);
        src = source;
    }
    if (mount(src, target, s->s3, s->mflags, s->s4) < 0)
        fail(c, STAGE_CALL);
    close(fd);
    if (src_fd >= 0) {
        close(src_fd);
        c->a->slots[s->slot] = -1;
    }
    if ((s->flags & LC_F_BIND) && s->n2)
        set_mount_attrs(c, s);
    if (s->n1) {
        fd = open_in_root(c->root_fd, s->s1, O_PATH);
        if (fd < 0)
            fail(c, STAGE_REOPEN);
        fd_path(target, fd);
        if (mount(NULL, target, NULL, (unsigned long)s->n1, NULL) < 0)
            fail(c, STAGE_PROPAGATION);
        close(fd);
    }
}

static void do_mknod(struct child *c, const struct lc_step *s)
{
    char buf[PATH_MAX];
    const char *name;
    int pfd = open_parent_in_root(c->root_fd, s->s1, buf, &name);

    if (pfd < 0)
        fail(c, STAGE_RESOLVE);
    if (mknodat(pfd, name, (mode_t)s->n1, (dev_t)s->n2) < 0) {
        if (errno != EEXIST || unlinkat(pfd, name, 0) < 0 ||
            mknodat(pfd, name, (mode_t)s->n1, (dev_t)s->n2) < 0)
            fail(c, STAGE_CALL);
    }
    close(pfd);
}

static void do_symlink(struct child *c, const struct lc_step *s)
{
    char buf[PATH_MAX];
    const char *name;
    int pfd = open_parent_in_root(c->root_fd, s->s2, buf, &name);

    if (pfd < 0)
        fail(c, STAGE_RESOLVE);
    if (symlinkat(s->s1, pfd, name) < 0) {
        if (errno != EEXIST || unlinkat(pfd, name, 0) < 0 || symlinkat(s->s1, pfd, name) < 0)
            fail(c, STAGE_CALL);
    }
    close(pfd);
}

/* After pivot_root(".", ".") the old root sits on top of the new one.  Make
 * it (and only it: a path lookup of "." would reach the new root below)
 * a recursive slave, so that detaching it propagates nowhere. */
static void detach_old_root(struct child *c, int old_root)
{
    struct lc_mount_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.propagation = MS_SLAVE;
    if (syscall(SYS_mount_setattr, old_root, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_PROPAGATION);
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            fail(c, STAGE_PROPAGATION);
    }
    if (umount2(".", MNT_DETACH) < 0)
        fail(c, STAGE_CALL);
}

static void do_pivot_root(struct child *c, const struct lc_step *s)
{
    if (fchdir(c->root_fd) < 0)
        fail(c, STAGE_RESOLVE);
    if (!(s->flags & LC_F_NO_PIVOT)) {
        int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (old_root < 0)
            fail(c, STAGE_RESOLVE);
        if (syscall(SYS_pivot_root, ".", ".") == 0) {
            detach_old_root(c, old_root);
            close(old_root);
            goto done;
        }
        if (errno != EINVAL || (s->flags & LC_F_PIVOT_ONLY))
            fail(c, STAGE_CALL);
        close(old_root);
    }
    /* pivot_root cannot work (initramfs) or was not wanted. */
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        fail(c, STAGE_CALL);
    if (chroot(".") < 0)
        fail(c, STAGE_CALL);
done:
    if (chdir("/") < 0)
        fail(c, STAGE_RESOLVE);
    close(c->root_fd);
    c->root_fd = -1;
}

static void do_remount_root_ro(struct child *c)
{
    struct lc_mount_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.attr_set = 0x1; /* MOUNT_ATTR_RDONLY */
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_ATTR);
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
            fail(c, STAGE_ATTR);
    }
}

static void loopback_up(struct child *c)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        fail(c, STAGE_RESOLVE);
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        fail(c, STAGE_RESOLVE);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        fail(c, STAGE_CALL);
    close(s);
}

static int clear_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0)
        return -1;
    if (fl & FD_CLOEXEC)
        return fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    return 0;
}

static int close_between(const struct lc_spawn_args *a, unsigned int lo, unsigned int hi)
{
    unsigned int fd;

    if (lo > hi)
        return 0;
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    if (hi > (unsigned int)a->max_fd)
        hi = (unsigned int)a->max_fd;
    for (fd = lo; fd <= hi; fd++)
        close((int)fd);
    return 0;
}

/* The fds that survive SETUP_FDS besides 0/1/2: the passed ones, the sync
 * socket and the listening socket of a later WAIT_ACCEPT step. */
static int keeps_fd(struct child *c, unsigned int fd)
{
    const struct lc_spawn_args *a = c->a;
    int i;

    if ((int)fd == c->sync_fd)
        return 1;
    for (i = 0; i < a->nkeep; i++)
        if ((unsigned int)a->keep_fds[i] == fd)
            return 1;
    for (i = c->step; i < a->nsteps; i++)
        if (a->steps[i].op == LC_OP_WAIT_ACCEPT && (unsigned int)a->steps[i].n1 == fd)
            return 1;
    return 0;
}

/* The smallest kept fd at or above lo, or -1. */
static long next_kept(struct child *c, unsigned int lo)
{
    const struct lc_spawn_args *a = c->a;
    long best = -1;
    int i;

#define CONSIDER(fd)                                                       \
    do {                                                                   \
        long f_ = (long)(fd);                                              \
        if (f_ >= (long)lo && (best < 0 || f_ < best) && keeps_fd(c, (unsigned int)f_)) \
            best = f_;                                                     \
    } while (0)
    CONSIDER(c->sync_fd);
    for (i = 0; i < a->nkeep; i++)
        CONSIDER(a->keep_fds[i]);
    for (i = c->step; i < a->nsteps; i++)
        if (a->steps[i].op == LC_OP_WAIT_ACCEPT)
            CONSIDER(a->steps[i].n1);
#undef CONSIDER
    return best;
}

/* stdio onto 0/1/2, passed fds kept, every other fd closed (for real, not
 * just marked close-on-exec: a later chdir must not see a host fd). */
static void setup_fds(struct child *c)
{
    const struct lc_spawn_args *a = c->a;
    int src[3];
    int i, j;
    unsigned int lo = 3;
    long kept;

    for (i = 0; i < 3; i++)
        src[i] = c->tty_fd >= 0 ? c->tty_fd : a->stdio[i];
    /* A source sitting on a low fd that another target would overwrite is
     * moved out of the way first. */
    for (i = 0; i < 3; i++) {
        if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
            int old = src[i];
            int moved = fcntl(old, F_DUPFD_CLOEXEC, 3);

            if (moved < 0)
                fail(c, STAGE_RESOLVE);
            for (j = 0; j < 3; j++)
                if (src[j] == old)
                    src[j] = moved;
        }
    }
    for (i = 0; i < 3; i++) {
        if (src[i] < 0 || src[i] == i) {
            if (clear_cloexec(i) < 0 && errno != EBADF)
                fail(c, STAGE_RESOLVE);
        } else if (dup2(src[i], i) < 0) {
            fail(c, STAGE_RESOLVE);
        }
    }
    for (i = 0; i < a->nkeep; i++)
        if (clear_cloexec(a->keep_fds[i]) < 0)
            fail(c, STAGE_RESOLVE);
    while ((kept = next_kept(c, lo)) >= 0) {
        if (close_between(a, lo, (unsigned int)kept - 1) < 0)
            fail(c, STAGE_CALL);
        lo = (unsigned int)kept + 1;
    }
    if (close_between(a, lo, ~0U) < 0)
        fail(c, STAGE_CALL);
}

static void do_exec(struct child *c)
{
    const struct lc_spawn_args *a = c->a;
    int saved = 0;
    int i;

    /* Signals were unblocked at the start; nothing but execve may run
     * here, the seccomp filter is already loaded. */
    for (i = 0; i < a->nexec; i++) {
        execve(a->exec_paths[i], a->argv, a->envp);
        if (saved == 0 && errno != ENOENT && errno != ENOTDIR)
            saved = errno;
        if (saved == 0 && i == a->nexec - 1)
            saved = errno;
    }
    errno = saved ? saved : ENOENT;
    fail(c, STAGE_CALL);
}

/* ---- security ---------------------------------------------------------- */

static void drop_bounding(struct child *c, const struct lc_step *s)
{
    long cap;

    for (cap = 0; cap <= s->n2; cap++) {
        if ((unsigned long)s->n1 & (1UL << cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            fail(c, STAGE_CALL);
    }
}

static void do_capset(struct child *c, const struct lc_step *s)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    int i;

    memset(&hdr, 0, sizeof hdr);
    memset(data, 0, sizeof data);
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    for (i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)((unsigned long)s->n1 >> (32 * i));
        data[i].permitted = (uint32_t)((unsigned long)s->n2 >> (32 * i));
        data[i].inheritable = (uint32_t)((unsigned long)s->n3 >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        fail(c, STAGE_CALL);
}

static void raise_ambient(struct child *c, const struct lc_step *s)
{
    long cap;

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        fail(c, STAGE_CALL);
    for (cap = 0; cap <= s->n2; cap++) {
        if (!((unsigned long)s->n1 & (1UL << cap)))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            fail(c, STAGE_CALL);
    }
}

static void write_file(struct child *c, const struct lc_step *s)
{
    size_t len = strlen(s->s2);
    ssize_t n;
    int fd;

    if (s->flags & LC_F_IN_ROOT)
        fd = open_in_root(c->root_fd, s->s1, O_WRONLY);
    else
        fd = open(s->s1, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(c, STAGE_RESOLVE);
    do {
        n = write(fd, s->s2, len);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len) {
        if (n >= 0)
            errno = EIO;
        fail(c, STAGE_CALL);
    }
    close(fd);
}

/* A path the container must not read: a read-only empty tmpfs over a
 * directory, the host's /dev/null over anything else. */
static void mask_path(struct child *c, const struct lc_step *s)
{
    char target[64];
    struct stat st;
    int fd = open_in_root(c->root_fd, s->s1, O_PATH);

    if (fd < 0) {
        if (errno == ENOENT)
            return;
        fail(c, STAGE_RESOLVE);
    }
    if (fstat(fd, &st) < 0)
        fail(c, STAGE_RESOLVE);
    fd_path(target, fd);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555") < 0)
            fail(c, STAGE_CALL);
    } else if (mount("/dev/null", target, NULL, MS_BIND, NULL) < 0) {
        fail(c, STAGE_CALL);
    }
    close(fd);
}

static void readonly_path(struct child *c, const struct lc_step *s)
{
    struct lc_mount_attr attr;
    char target[64];
    int fd = open_in_root(c->root_fd, s->s1, O_PATH);

    if (fd < 0) {
        if (errno == ENOENT)
            return;
        fail(c, STAGE_RESOLVE);
    }
    fd_path(target, fd);
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        fail(c, STAGE_CALL);
    close(fd);
    fd = open_in_root(c->root_fd, s->s1, O_PATH);
    if (fd < 0)
        fail(c, STAGE_REOPEN);
    memset(&attr, 0, sizeof attr);
    attr.attr_set = 0x1 | 0x2 | 0x4 | 0x8; /* RDONLY NOSUID NODEV NOEXEC */
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_ATTR);
        fd_path(target, fd);
        if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  NULL) < 0)
            fail(c, STAGE_ATTR);
    }
    close(fd);
}

/* Hand an fd to the parent with SCM_RIGHTS, inside a sync record. */
static int send_fd(struct child *c, int kind, int fd)
{
    struct lc_msg m;
    struct iovec iov;
    struct msghdr mh;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct cmsghdr *cm;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.step = c->step;
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    memset(&mh, 0, sizeof mh);
    memset(&u, 0, sizeof u);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return sendmsg(c->sync_fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof m ? 0 : -1;
}

static void load_seccomp(struct child *c, const struct lc_step *s)
{
    struct sock_fprog prog;
    long rc;

    prog.len = (unsigned short)s->n1;
    prog.filter = (struct sock_filter *)s->buf;
    rc = syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, (unsigned int)s->n2, &prog);
    if (rc < 0)
        fail(c, STAGE_CALL);
    if ((unsigned long)s->n2 & (1UL << 3)) { /* NEW_LISTENER: rc is the listener */
        if (send_fd(c, LC_MSG_SECCOMP_FD, (int)rc) < 0)
            fail(c, STAGE_ATTR);
        close((int)rc);
    }
}

static void open_tty(struct child *c)
{
    int master, term, unlock = 0;

    master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        fail(c, STAGE_RESOLVE);
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        fail(c, STAGE_CALL);
    /* The terminal side through the master itself: no path to race on. */
    term = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (term < 0)
        fail(c, STAGE_CALL);
    if (send_fd(c, LC_MSG_TTY_FD, master) < 0)
        fail(c, STAGE_ATTR);
    close(master);
    if (setsid() < 0 || ioctl(term, TIOCSCTTY, 0) < 0)
        fail(c, STAGE_CALL);
    c->tty_fd = term;
}

/* PID 1 for a program that was not written to be one. */
__attribute__((noreturn)) static void init_loop(pid_t main_pid, const sigset_t *all)
{
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(all, &si);

        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(main_pid, sig);
            continue;
        }
        for (;;) {
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);

            if (p <= 0)
                break;
            if (p != main_pid)
                continue;
            if (WIFEXITED(status))
                _exit(WEXITSTATUS(status));
            _exit(128 + WTERMSIG(status));
        }
    }
}

static void become_init(struct child *c)
{
    sigset_t all, none;
    long pid;

    /* Block first: a signal sent between the fork and the loop must wait
     * for the loop, not kill PID 1 (which ignores signals it has no
     * handler for anyway). */
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL);
    pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (pid < 0)
        fail(c, STAGE_CALL);
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        return; /* the program's process: on to execve */
    }
    /* Only the program's process reports to the parent and the starter:
     * its exec closes them (EOF means it started). */
    close(c->sync_fd);
    if (c->start_fd >= 0)
        close(c->start_fd);
    prctl(PR_SET_NAME, "init", 0, 0, 0);
    init_loop((pid_t)pid, &all);
}

static void run_step(struct child *c, const struct lc_step *s)
{
    switch (s->op) {
    case LC_OP_SETNS:
        if (setns((int)s->n1, (int)s->n2) < 0)
            fail(c, STAGE_CALL);
        close((int)s->n1);
        break;
    case LC_OP_UNSHARE:
        if (unshare((int)s->n1) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_FORK: {
        struct lc_clone_args ca;
        long pid;

        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_PARENT | (uint64_t)s->n1;
        pid = syscall(SYS_clone3, &ca, sizeof ca);
        if (pid < 0 && errno == ENOSYS)
            pid = syscall(SYS_clone, CLONE_PARENT | (unsigned long)s->n1, 0, NULL, NULL, 0);
        if (pid < 0)
            fail(c, STAGE_CALL);
        if (pid > 0) {
            send_msg(c->sync_fd, LC_MSG_CHILD_PID, c->step, 0, (int)pid);
            _exit(0);
        }
        break;
    }
    case LC_OP_WAIT_PARENT:
        wait_for(c, LC_MSG_WAITING, LC_MSG_GO);
        break;
    case LC_OP_LOOPBACK_UP:
        loopback_up(c);
        break;
    case LC_OP_ROOT_PROPAGATION:
        if (mount(NULL, "/", NULL, (unsigned long)s->n1, NULL) < 0)
            fail(c, STAGE_PROPAGATION);
        break;
    case LC_OP_ROOT_TMPFS:
        if (mount("tmpfs", s->s1, "tmpfs", s->mflags, s->s2) < 0)
            fail(c, STAGE_CALL);
        c->root_fd = open(s->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->root_fd < 0)
            fail(c, STAGE_REOPEN);
        break;
    case LC_OP_ROOT_BIND:
        if (mount(s->s1, s->s1, NULL, MS_BIND | MS_REC, NULL) < 0)
            fail(c, STAGE_CALL);
        c->root_fd = open(s->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->root_fd < 0)
            fail(c, STAGE_REOPEN);
        break;
    case LC_OP_ROOT_OVERLAY: {
        const char *target = s->s1;

        if (s->flags & LC_F_THROWAWAY) {
            int d;

            if (mount("tmpfs", s->s1, "tmpfs", MS_NOSUID | MS_NODEV, s->s3) < 0)
                fail(c, STAGE_CALL);
            d = open(s->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (d < 0 || mkdirat(d, "upper", 0755) < 0 || mkdirat(d, "work", 0755) < 0 ||
                mkdirat(d, "root", 0755) < 0)
                fail(c, STAGE_RESOLVE);
            close(d);
            target = s->s4;
        }
        if (mount("overlay", target, "overlay", s->mflags, s->s2) < 0)
            fail(c, STAGE_CALL);
        c->root_fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->root_fd < 0)
            fail(c, STAGE_REOPEN);
        break;
    }
    case LC_OP_MOUNT:
        do_mount(c, s);
        break;
    case LC_OP_MKNOD:
        do_mknod(c, s);
        break;
    case LC_OP_SYMLINK:
        do_symlink(c, s);
        break;
    case LC_OP_PIVOT_ROOT:
        do_pivot_root(c, s);
        break;
    case LC_OP_REMOUNT_ROOT_RO:
        do_remount_root_ro(c);
        break;
    case LC_OP_SETHOSTNAME:
        if (sethostname(s->s1, strlen(s->s1)) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_SETDOMAINNAME:
        if (setdomainname(s->s1, strlen(s->s1)) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_SETUP_FDS:
        setup_fds(c);
        break;
    /* Raw syscalls: glibc's wrappers would try to sync the (absent) other
     * threads of the parent. */
    case LC_OP_SETGROUPS:
        if (syscall(SYS_setgroups, (size_t)s->n1, s->buf) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_SETGID:
        if (syscall(SYS_setresgid, (gid_t)s->n1, (gid_t)s->n1, (gid_t)s->n1) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_SETUID:
        if (syscall(SYS_setresuid, (uid_t)s->n1, (uid_t)s->n1, (uid_t)s->n1) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_CHDIR:
        if (chdir(s->s1) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_UMASK:
        umask((mode_t)s->n1);
        break;
    case LC_OP_WAIT_START:
        wait_for(c, LC_MSG_READY, LC_MSG_START);
        break;
    case LC_OP_EXEC:
        do_exec(c);
        break;
    case LC_OP_KEEPCAPS:
        if (prctl(PR_SET_KEEPCAPS, s->n1, 0, 0, 0) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_DROP_BOUNDING:
        drop_bounding(c, s);
        break;
    case LC_OP_CAPSET:
        do_capset(c, s);
        break;
    case LC_OP_AMBIENT:
        raise_ambient(c, s);
        break;
    case LC_OP_NO_NEW_PRIVS:
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_RLIMIT: {
        struct rlimit rl;

        rl.rlim_cur = (rlim_t)(unsigned long)s->n2;
        rl.rlim_max = (rlim_t)(unsigned long)s->n3;
        if (setrlimit((int)s->n1, &rl) < 0)
            fail(c, STAGE_CALL);
        break;
    }
    case LC_OP_WRITE_FILE:
        write_file(c, s);
        break;
    case LC_OP_MASK_PATH:
        mask_path(c, s);
        break;
    case LC_OP_READONLY_PATH:
        readonly_path(c, s);
        break;
    case LC_OP_SECCOMP:
        load_seccomp(c, s);
        break;
    case LC_OP_WAIT_ACCEPT: {
        char go;
        int conn;
        ssize_t n;

        /* READY, then wait until the creator has recorded the state: if it
         * dies before that, nobody could ever find this process. */
        wait_for(c, LC_MSG_READY, LC_MSG_GO);
        do {
            conn = accept4((int)s->n1, NULL, NULL, SOCK_CLOEXEC);
        } while (conn < 0 && errno == EINTR);
        if (conn < 0)
            fail(c, STAGE_CALL);
        close((int)s->n1);
        c->start_fd = conn;
        do {
            n = recv(conn, &go, 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(126); /* the starter went away without starting */
        break;
    }
    case LC_OP_TTY:
        open_tty(c);
        break;
    case LC_OP_INIT:
        become_init(c);
        break;
    case LC_OP_NOT_DUMPABLE:
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
            fail(c, STAGE_CALL);
        break;
    case LC_OP_JOIN_CGROUP:
        if (write((int)s->n1, "0", 1) != 1)
            fail(c, STAGE_CALL);
        close((int)s->n1);
        break;
    case LC_OP_PREOPEN:
        if (s->slot < 0 || s->slot >= c->a->nslots) {
            errno = EINVAL;
            fail(c, 0);
        }
        c->a->slots[s->slot] = open(s->s1, O_PATH | O_CLOEXEC);
        if (c->a->slots[s->slot] < 0)
            fail(c, STAGE_CALL);
        break;
    default:
        errno = EINVAL;
        fail(c, 0);
    }
}

/* Signal handlers of the parent (Python's among them) must never run here. */
static void reset_signals(void)
{
    struct sigaction sa;
    int sig;

    for (sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) < 0)
            continue;
        if (sa.sa_handler == SIG_IGN && sig != SIGPIPE && sig != SIGXFSZ)
            continue;
        if (sa.sa_handler == SIG_DFL)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
    }
}

/* Another thread may have created fds (pipes of another container, its
 * sync socket) that this child inherited; drop them at once so that nobody
 * waits for an EOF held up by this child. */
static void close_foreign_fds(struct child *c)
{
    const struct lc_spawn_args *a = c->a;
    unsigned int lo = 0;
    int i;

    for (i = 0; i < a->nearly; i++) {
        unsigned int fd = (unsigned int)a->early_keep[i];

        if (fd > lo && close_between(a, lo, fd - 1) < 0)
            fail(c, 0);
        if (fd + 1 > lo)
            lo = fd + 1;
    }
    if (close_between(a, lo, ~0U) < 0)
        fail(c, 0);
}

/* Move the sync socket above every fd the process keeps, so SETUP_FDS can
 * place stdio and passed fds without clobbering it. */
static void relocate_sync_fd(struct child *c)
{
    int floor = 3;
    int fd;

    if (c->a->nkeep > 0 && c->a->keep_fds[c->a->nkeep - 1] >= floor)
        floor = c->a->keep_fds[c->a->nkeep - 1] + 1;
    if (c->sync_fd >= floor)
        return;
    fd = fcntl(c->sync_fd, F_DUPFD_CLOEXEC, floor);
    if (fd < 0)
        fail(c, 0);
    close(c->sync_fd);
    c->sync_fd = fd;
}

__attribute__((noreturn)) static void child_main(const struct lc_spawn_args *a);

__attribute__((noreturn)) static void child_main(const struct lc_spawn_args *a)
{
    struct child c;
    sigset_t all;

    c.a = a;
    c.sync_fd = a->sync_fd;
    c.root_fd = -1;
    c.step = -1;
    c.start_fd = -1;
    c.tty_fd = -1;
    reset_signals();
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    umask(0);
    close_foreign_fds(&c);
    relocate_sync_fd(&c);
    for (c.step = 0; c.step < a->nsteps; c.step++) {
        errno = 0;
        run_step(&c, &a->steps[c.step]);
    }
    /* A plan always ends in EXEC; reaching here is a planning bug. */
    errno = EINVAL;
    fail(&c, 0);
}

/* ---- parent side -------------------------------------------------------- */

static int original_dumpable = -1;

__attribute__((constructor)) static void remember_dumpable(void)
{
    original_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

static int child_entry(void *arg)
{
    child_main((const struct lc_spawn_args *)arg);
}

/* posix_spawn's model: the child shares our memory (no page tables to copy,
 * no copy-on-write faults) and this thread is suspended until it has exec'd
 * or exited, so nothing it reads can change under it.  Returns -2 when a
 * stack cannot be had, so the caller falls back to a plain clone. */
#define LC_CHILD_STACK (256 * 1024)

static long spawn_vfork(const struct lc_spawn_args *a, int *pidfd)
{
    void *stack = mmap(NULL, LC_CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    long pid;
    int saved;

    if (stack == MAP_FAILED)
        return -2;
    pid = clone(child_entry, (char *)stack + LC_CHILD_STACK,
                (int)(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | a->clone_flags | SIGCHLD),
                (void *)a, pidfd);
    saved = errno;
    munmap(stack, LC_CHILD_STACK);
    /* The dumpable flag lives in the memory descriptor the child shared
     * until execve: its NOT_DUMPABLE step, or a uid change, cleared ours.
     * Put back the value this process had when the library was loaded (not
     * the one read before this spawn: a concurrent spawn's child may have
     * cleared it then; the last spawn to finish restores it for all). */
    if ((original_dumpable == 0 || original_dumpable == 1) &&
        prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != original_dumpable)
        prctl(PR_SET_DUMPABLE, original_dumpable, 0, 0, 0);
    errno = saved;
    return pid;
}

int lc_spawn(const struct lc_spawn_args *a, int *pidfd_out)
{
    struct lc_clone_args ca;
    sigset_t all, old;
    int pidfd = -1;
    long pid;
    int saved;

    *pidfd_out = -1;
    memset(&ca, 0, sizeof ca);
    ca.flags = (uint64_t)a->clone_flags | CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;
    if (a->cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)a->cgroup_fd;
    }
    /* No signal handler may run in the child before it resets them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = -2;
    /* clone(2) cannot say CLONE_INTO_CGROUP, nor CLONE_NEWTIME (its bit is
     * the exit signal there): those need clone3. */
    if (a->vfork && a->cgroup_fd < 0 && !(a->clone_flags & LC_CLONE_NEWTIME))
        pid = spawn_vfork(a, &pidfd);
    if (pid == -2)
        pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0 && errno == ENOSYS && a->cgroup_fd < 0) {
        pidfd = -1;
        pid = syscall(SYS_clone, a->clone_flags | SIGCHLD, 0, NULL, NULL, 0);
    }
    if (pid == 0)
        child_main(a);
    saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = saved;
        return -1;
    }
    *pidfd_out = pidfd;
    return (int)pid;
}
