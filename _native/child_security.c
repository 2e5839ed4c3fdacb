/* Child executor: see child.h and executor.c. */
#include "child.h"

void drop_bounding(struct child *c, const struct lc_step *s)
{
    long cap;

    for (cap = 0; cap <= s->n2; cap++) {
        if ((unsigned long)s->n1 & (1UL << cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            fail(c, STAGE_CALL);
    }
}

void do_capset(struct child *c, const struct lc_step *s)
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

void raise_ambient(struct child *c, const struct lc_step *s)
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

void write_file(struct child *c, const struct lc_step *s)
{
    size_t len = strlen(s->s2);
    ssize_t n;
    int fd;

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

/* Tell the parent the listener's fd number with write(2), the one call a
 * notify rule may not name (as in runc), and wait until it has taken a copy
 * (pidfd_getfd): only then may this process close it.  The wait may itself
 * be a notified call; the holder of the copy answers it. */
static void hand_over_listener(struct child *c, int fd)
{
    struct lc_msg m;
    ssize_t n;

    memset(&m, 0, sizeof m);
    m.kind = LC_MSG_SECCOMP_FD;
    m.step = c->step;
    m.value = fd;
    do {
        n = write(c->sync_fd, &m, sizeof m);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof m)
        fail(c, STAGE_HANDOFF);
    do {
        n = recv(c->sync_fd, &m, sizeof m, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        _exit(126); /* the parent is gone */
    if (n != (ssize_t)sizeof m || m.kind != LC_MSG_GO) {
        errno = EPROTO;
        fail(c, STAGE_HANDOFF);
    }
    close(fd);
}

void load_seccomp(struct child *c, const struct lc_step *s)
{
    struct sock_fprog prog;
    long rc;

    prog.len = (unsigned short)s->n1;
    prog.filter = (struct sock_filter *)s->buf;
    rc = syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, (unsigned int)s->n2, &prog);
    if (rc < 0)
        fail(c, STAGE_CALL);
    if (!((unsigned long)s->n2 & (1UL << 3))) /* no NEW_LISTENER: no listener */
        return;
    if (s->n3) {
        hand_over_listener(c, (int)rc);
        return;
    }
    /* A parent that may not take it (no CAP_SYS_PTRACE): SCM_RIGHTS. */
    if (send_fd(c, LC_MSG_SECCOMP_FD, (int)rc) < 0)
        fail(c, STAGE_HANDOFF);
    close((int)rc);
}
