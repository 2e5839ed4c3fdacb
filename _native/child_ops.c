/* Child executor: the steps that are one or a few system calls (see
 * executor.c for the dispatch and child.h for what the files share).  Each
 * op_* function is one LC_OP_*; the longer ones live with their concern
 * (mounts, security, process...). */
#include "child.h"

void op_setns(struct child *c, const struct lc_step *s)
{
    if (setns((int)s->n1, (int)s->n2) < 0)
        fail(c, STAGE_CALL);
    close((int)s->n1);
}

void op_unshare(struct child *c, const struct lc_step *s)
{
    if (unshare((int)s->n1) < 0)
        fail(c, STAGE_CALL);
}

/* The new process is a sibling of this one (CLONE_PARENT); this one reports
 * its pid and exits.  The new one reports only after CHILD_PID is sent: it
 * waits for EOF on `gate`, which comes when this process has sent it and
 * exited.  Otherwise, under load, its READY (or seccomp listener) could
 * reach the parent first, for the wrong pid. */
void op_fork(struct child *c, const struct lc_step *s)
{
    struct lc_clone_args ca;
    long pid;
    int gate[2];
    char b;

    if (pipe2(gate, O_CLOEXEC) < 0)
        fail(c, STAGE_CALL);
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
    close(gate[1]);
    while (read(gate[0], &b, 1) < 0 && errno == EINTR)
        ;
    close(gate[0]);
}

void op_wait_parent(struct child *c, const struct lc_step *s)
{
    wait_for(c, LC_MSG_WAITING, LC_MSG_GO);
}

void op_loopback_up(struct child *c, const struct lc_step *s)
{
    loopback_up(c);
}

void op_root_propagation(struct child *c, const struct lc_step *s)
{
    if (mount(NULL, s->s1 ? s->s1 : "/", NULL, (unsigned long)s->n1, NULL) < 0)
        fail(c, STAGE_PROPAGATION);
}

static void open_root(struct child *c, const char *path)
{
    c->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->root_fd < 0)
        fail(c, STAGE_REOPEN);
}

void op_root_tmpfs(struct child *c, const struct lc_step *s)
{
    if (mount("tmpfs", s->s1, "tmpfs", s->mflags, s->s2) < 0)
        fail(c, STAGE_CALL);
    open_root(c, s->s1);
}

void op_root_bind(struct child *c, const struct lc_step *s)
{
    if (mount(s->s1, s->s1, NULL, MS_BIND | MS_REC, NULL) < 0)
        fail(c, STAGE_CALL);
    open_root(c, s->s1);
}

void op_root_overlay(struct child *c, const struct lc_step *s)
{
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
    open_root(c, target);
}

void op_remount_root_ro(struct child *c, const struct lc_step *s)
{
    do_remount_root_ro(c);
}

void op_sethostname(struct child *c, const struct lc_step *s)
{
    if (sethostname(s->s1, strlen(s->s1)) < 0)
        fail(c, STAGE_CALL);
}

void op_setdomainname(struct child *c, const struct lc_step *s)
{
    if (setdomainname(s->s1, strlen(s->s1)) < 0)
        fail(c, STAGE_CALL);
}

void op_setup_fds(struct child *c, const struct lc_step *s)
{
    setup_fds(c);
}

/* Whether this process's user namespace denies setgroups(2) (its
 * /proc/self/setgroups reads "deny": an unprivileged creator wrote its
 * gid_map itself). */
static int setgroups_denied(void)
{
    char buf[8] = { 0 };
    int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n >= 4 && memcmp(buf, "deny", 4) == 0;
}

/* Raw syscalls: glibc's wrappers would try to sync the (absent) other
 * threads of the parent.  No groups asked for, in a user namespace that
 * denies setgroups (a process joining a rootless container's): nothing
 * to do, as runc; groups asked for there fail with EPERM. */
void op_setgroups(struct child *c, const struct lc_step *s)
{
    if (syscall(SYS_setgroups, (size_t)s->n1, s->buf) < 0) {
        int err = errno;

        if (err == EPERM && s->n1 == 0 && setgroups_denied())
            return;
        errno = err;
        fail(c, STAGE_CALL);
    }
}

void op_setgid(struct child *c, const struct lc_step *s)
{
    if (syscall(SYS_setresgid, (gid_t)s->n1, (gid_t)s->n1, (gid_t)s->n1) < 0)
        fail(c, STAGE_CALL);
}

void op_setuid(struct child *c, const struct lc_step *s)
{
    if (syscall(SYS_setresuid, (uid_t)s->n1, (uid_t)s->n1, (uid_t)s->n1) < 0)
        fail(c, STAGE_CALL);
}

void op_chdir(struct child *c, const struct lc_step *s)
{
    enter_cwd(c, s->s1);
}

void op_mkdirs(struct child *c, const struct lc_step *s)
{
    char path[PATH_MAX];
    size_t i, n = strlen(s->s1);

    if (n >= sizeof path) {
        errno = ENAMETOOLONG;
        fail(c, STAGE_CALL);
    }
    memcpy(path, s->s1, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, (mode_t)s->n1) < 0 && errno != EEXIST)
            fail(c, STAGE_CALL);
        if (i < n)
            path[i] = '/';
    }
}

void op_umask(struct child *c, const struct lc_step *s)
{
    umask((mode_t)s->n1);
}

void op_wait_start(struct child *c, const struct lc_step *s)
{
    wait_for(c, LC_MSG_READY, LC_MSG_START);
}

void op_exec(struct child *c, const struct lc_step *s)
{
    do_exec(c);
}

void op_find_exec(struct child *c, const struct lc_step *s)
{
    find_exec(c);
}

void op_personality(struct child *c, const struct lc_step *s)
{
    if (personality((unsigned long)s->n1) < 0)
        fail(c, STAGE_CALL);
}

void op_sched_setattr(struct child *c, const struct lc_step *s)
{
    if (syscall(SYS_sched_setattr, 0, s->buf, 0) < 0)
        fail(c, STAGE_CALL);
}

void op_ioprio(struct child *c, const struct lc_step *s)
{
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (int)s->n1) < 0)
        fail(c, STAGE_CALL);
}

void op_sched_setaffinity(struct child *c, const struct lc_step *s)
{
    if (syscall(SYS_sched_setaffinity, 0, (size_t)s->buflen, s->buf) < 0)
        fail(c, STAGE_CALL);
}

void op_set_mempolicy(struct child *c, const struct lc_step *s)
{
    /* maxnode counts one more than the mask's bits (the kernel drops one) */
    if (syscall(SYS_set_mempolicy, (int)s->n1, s->buflen ? s->buf : NULL,
                s->buflen ? (unsigned long)s->n2 + 1 : 0UL) < 0)
        fail(c, STAGE_CALL);
}

void op_keepcaps(struct child *c, const struct lc_step *s)
{
    if (prctl(PR_SET_KEEPCAPS, s->n1, 0, 0, 0) < 0)
        fail(c, STAGE_CALL);
}

void op_pdeathsig(struct child *c, const struct lc_step *s)
{
    die_with_parent(c, (int)s->n1);
}

void op_setsid(struct child *c, const struct lc_step *s)
{
    if (setsid() < 0)
        fail(c, STAGE_CALL);
}

/* keyctl(2) operations (linux/keyctl.h), spelled out: the header is not
 * everywhere the build runs. */
#define LC_KEYCTL_JOIN_SESSION_KEYRING 1
#define LC_KEYCTL_SETPERM 5
#define LC_KEYCTL_DESCRIBE 6

void op_keyring(struct child *c, const struct lc_step *s)
{
    char desc[512];
    const char *p;
    unsigned long perm = 0;
    int fields = 0;
    long id, n;

    id = syscall(SYS_keyctl, LC_KEYCTL_JOIN_SESSION_KEYRING, s->s1);
    if (id < 0) {
        if (errno == ENOSYS)
            return;
        fail(c, STAGE_CALL);
    }
    if (s->n1 == 0)
        return; /* joined: the keyring is another process's to set */
    /* "type;uid;gid;perm;description", perm in hex: keep it, add n1. */
    n = syscall(SYS_keyctl, LC_KEYCTL_DESCRIBE, id, desc, sizeof desc - 1);
    if (n < 0)
        fail(c, STAGE_CALL);
    desc[(size_t)n < sizeof desc ? (size_t)n : sizeof desc - 1] = '\0';
    for (p = desc; *p && fields < 3; p++)
        if (*p == ';')
            fields++;
    for (; fields == 3 && *p && *p != ';'; p++) {
        int digit = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (digit < 0)
            break;
        perm = perm << 4 | (unsigned long)digit;
    }
    if (fields != 3 || *p != ';') {
        errno = EINVAL;
        fail(c, STAGE_CALL);
    }
    if (syscall(SYS_keyctl, LC_KEYCTL_SETPERM, id, (unsigned long)(perm | (unsigned long)s->n1)) < 0)
        fail(c, STAGE_CALL);
}

void op_no_new_privs(struct child *c, const struct lc_step *s)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(c, STAGE_CALL);
}

void op_rlimit(struct child *c, const struct lc_step *s)
{
    struct rlimit rl;

    rl.rlim_cur = (rlim_t)(unsigned long)s->n2;
    rl.rlim_max = (rlim_t)(unsigned long)s->n3;
    if (setrlimit((int)s->n1, &rl) < 0)
        fail(c, STAGE_CALL);
}

/* READY, then wait until the creator has recorded the state (if it dies
 * before that, nobody could ever find this process), then for a
 * connection from whoever starts the container. */
void op_wait_accept(struct child *c, const struct lc_step *s)
{
    char go;
    int conn;
    ssize_t n;

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
}

void op_not_dumpable(struct child *c, const struct lc_step *s)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail(c, STAGE_CALL);
}

void op_join_cgroup(struct child *c, const struct lc_step *s)
{
    if (write((int)s->n1, "0", 1) != 1)
        fail(c, STAGE_CALL);
    close((int)s->n1);
}

void op_preopen(struct child *c, const struct lc_step *s)
{
    if (s->slot < 0 || s->slot >= c->a->nslots) {
        errno = EINVAL;
        fail(c, 0);
    }
    c->a->slots[s->slot] = open(s->s1, O_PATH | O_CLOEXEC);
    if (c->a->slots[s->slot] < 0)
        fail(c, STAGE_CALL);
}
