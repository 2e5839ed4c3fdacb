/* Child executor: see child.h and executor.c. */
#include "child.h"

void send_msg(int fd, int kind, int step, int err, int value)
{
    struct lc_msg m;
    m.kind = kind;
    m.step = step;
    m.err = err;
    m.value = value;
    while (send(fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

__attribute__((noreturn)) void fail(struct child *c, int stage)
{
    int err = errno ? errno : EIO;
    struct lc_msg *report = c->a->report;

    if (report != NULL) { /* first: it needs no memory, the socket does */
        report->step = c->step;
        report->err = err;
        report->value = stage;
        report->kind = LC_MSG_ERROR;
    }
    send_msg(c->sync_fd, LC_MSG_ERROR, c->step, err, stage);
    if (c->start_fd >= 0)
        send_msg(c->start_fd, LC_MSG_ERROR, c->step, err, stage);
    _exit(127);
}

/* Block until the parent sends `expect`; a closed socket means the parent
 * is gone, so there is nothing left to do. */
void wait_for(struct child *c, int announce, int expect)
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

/* A sync record of `kind` and `n` fds (SCM_RIGHTS, at most
 * LC_SERVE_MAX_FDS) on `sock`, in one sendmsg. */
int send_record_fds(int sock, int kind, int step, const int *fds, int n)
{
    union {
        char buf[CMSG_SPACE(LC_SERVE_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct lc_msg m;
    struct iovec iov;
    struct msghdr mh;
    struct cmsghdr *cm;

    if (n < 1 || n > LC_SERVE_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.step = step;
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    memset(&mh, 0, sizeof mh);
    memset(&u, 0, sizeof u);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
    return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof m ? 0 : -1;
}

/* Hand an fd to the parent with SCM_RIGHTS, inside a sync record. */
int send_fd(struct child *c, int kind, int fd)
{
    return send_record_fds(c->sync_fd, kind, c->step, &fd, 1);
}
