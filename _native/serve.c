/* A box's server (LC_OP_SERVE): what the box's PID 1 becomes once the box
 * is set up.  It never execs.  For each run it first makes the run's
 * process (PREPARE), which moves itself into the run's cgroups and waits:
 * moving a process between cgroups can wait for an RCU grace period
 * (several ms), which is so spent between runs, not in one.  At RUN that
 * process takes the run's stdio, walks the run's steps (stdio, rlimits,
 * credentials) and execs the program.  The server reaps every process of
 * the box; when the program has ended it says so, then counts, kills and
 * reaps what the run left and empties the scratch directories, so that
 * the next run finds the box as the first one did.
 *
 * Like the rest of the child executor (child.h): system calls and
 * async-signal-safe libc only, no malloc, no stdio.  The server is a copy
 * of the caller; its seccomp filter is loaded (the box's), so each run's
 * process inherits it instead of compiling it again.  A run's process
 * shares the server's memory until it execs (no copy of the caller's
 * memory to make or tear down), so the server waits, blocked, whenever it
 * runs: they never run at the same time. */
#include "child.h"
#include <sys/signalfd.h>

/* The stack of the prepared process. */
#define SERVE_STACK (256 * 1024)

struct server {
    struct child *c;              /* c->sync_fd: the connection to the parent */
    struct lc_serve_region *r;    /* shared with the parent */
    int signal_fd;                /* SIGCHLD */
    int proc_fd;                  /* the box's /proc, or -1 */
    int box_fd;                   /* the box directory, or -1 */
    int scratch[2];               /* directories emptied after each run, or -1 */
    char *stack;
    pid_t prepared;               /* the next run's process, waiting, or 0 */
    int prepared_fd;              /* a socket to it, or -1 */
    pid_t program;                /* the running program, or 0 */
    int ended;                    /* the program has ended: end the run */
    int pending[LC_SERVE_MAX_FDS];/* a PREPARE that came during a run */
    int npending;                 /* (-1: none) */
};

/* What the prepared process starts with (copied to its own stack). */
struct prepared_args {
    int sock;
    int nfds;
    int fds[LC_SERVE_MAX_FDS];
    int max_fd;
    struct lc_serve_region *r;
};

static void reply(struct server *sv, int kind, int step, int err, int value)
{
    send_msg(sv->c->sync_fd, kind, step, err, value);
}

static void close_fds(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* One message on `sock` and the fds that came with it (at most `max`).
 * Returns recvmsg's count (0: the other end is gone); -1 with errno EPROTO
 * when fds were lost. */
static ssize_t receive(int sock, struct lc_msg *m, int *fds, int max, int *nfds)
{
    union {
        char buf[CMSG_SPACE(LC_SERVE_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov;
    struct msghdr mh;
    struct cmsghdr *cm;
    ssize_t n;

    iov.iov_base = m;
    iov.iov_len = sizeof *m;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE((size_t)max * sizeof(int));
    *nfds = 0;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return n;
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        int k;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (k > max - *nfds)
            k = max - *nfds;
        memcpy(fds + *nfds, CMSG_DATA(cm), (size_t)k * sizeof(int));
        *nfds += k;
    }
    if (mh.msg_flags & MSG_CTRUNC) {
        close_fds(fds, *nfds);
        *nfds = 0;
        errno = EPROTO;
        return -1;
    }
    return n;
}

/* The answer of the prepared process on `sock`: a record, or 0 at EOF. */
static ssize_t answer_of(int sock, struct lc_msg *m)
{
    ssize_t n;

    do {
        n = recv(sock, m, sizeof *m, 0);
    } while (n < 0 && errno == EINTR);
    return n;
}

static void forget_prepared(struct server *sv)
{
    if (sv->prepared_fd >= 0)
        close(sv->prepared_fd);
    sv->prepared_fd = -1;
    sv->prepared = 0;
}

static long long usec(struct timeval tv)
{
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Reap every exited child (with `block`, until none is left): its CPU
 * time goes to the region; the program's end is reported at once. */
static void reap(struct server *sv, int block)
{
    for (;;) {
        struct rusage ru;
        struct timespec now;
        int status;
        pid_t p = wait4(-1, &status, __WALL | (block ? 0 : WNOHANG), &ru);

        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0)
            return;
        sv->r->reaped_user_usec += usec(ru.ru_utime);
        sv->r->reaped_sys_usec += usec(ru.ru_stime);
        if (p == sv->prepared)
            forget_prepared(sv);
        if (p == sv->program) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            sv->r->exited_ns = (long long)now.tv_sec * 1000000000 + now.tv_nsec;
            sv->program = 0;
            sv->ended = 1;
            reply(sv, LC_MSG_EXITED, 0, 0, status);
        }
    }
}

/* The next run's process: it joins its cgroups, says so, waits for the
 * run's stdio, then walks the run's steps to execve. */
static int prepared_main(void *arg)
{
    struct prepared_args pa = *(struct prepared_args *)arg;
    struct lc_spawn_args a;
    struct child c;
    struct lc_msg m;
    sigset_t none;
    int stdio[LC_SERVE_MAX_FDS];
    int i, n;

    for (i = 0; i < pa.nfds; i++) {
        if (write(pa.fds[i], "0", 1) != 1) {
            send_msg(pa.sock, LC_MSG_ERROR, -1, errno, STAGE_CALL);
            _exit(127);
        }
        close(pa.fds[i]);
    }
    send_msg(pa.sock, LC_MSG_PREPARED, 0, 0, 0);
    if (receive(pa.sock, &m, stdio, 3, &n) <= 0 || m.kind != LC_MSG_RUN || n != 3)
        _exit(0); /* the server gave up on this process (its box ends) */
    for (i = 0; i < 3; i++) {
        if (stdio[i] >= LC_SERVE_FD_BASE || dup2(stdio[i], LC_SERVE_FD_BASE + i) < 0) {
            send_msg(pa.sock, LC_MSG_ERROR, -1, stdio[i] >= LC_SERVE_FD_BASE ? EMFILE : errno, STAGE_CALL);
            _exit(127);
        }
        close(stdio[i]);
    }
    memset(&a, 0, sizeof a);
    a.sync_fd = pa.sock;
    a.steps = pa.r->steps;
    a.nsteps = pa.r->nsteps;
    for (i = 0; i < 3; i++)
        a.stdio[i] = LC_SERVE_FD_BASE + i;
    a.argv = pa.r->argv;
    a.envp = pa.r->envp;
    a.exec_paths = pa.r->exec_paths;
    a.nexec = pa.r->nexec;
    a.max_fd = pa.max_fd;
    a.report = &pa.r->report;
    c.a = &a;
    c.sync_fd = pa.sock; /* kept by SETUP_FDS, closed by execve: EOF is success */
    c.root_fd = -1;
    c.step = -1;
    c.start_fd = -1;
    c.tty_fd = -1;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    run_steps(&c);
}

static void prepare(struct server *sv, const int *fds, int nfds)
{
    struct prepared_args pa;
    struct lc_msg m;
    int pair[2];
    long pid;
    int err = 0;

    if (sv->program != 0 && sv->npending < 0) { /* during a run: once it is over */
        memcpy(sv->pending, fds, (size_t)nfds * sizeof(int));
        sv->npending = nfds;
        return;
    }
    if (sv->prepared != 0)
        err = EBUSY;
    else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        err = errno;
    else if (pair[1] >= LC_SERVE_FD_BASE)
        err = EMFILE;
    if (err != 0) {
        close_fds(fds, nfds);
        reply(sv, LC_MSG_ERROR, -1, err, STAGE_CALL);
        return;
    }
    memset(&pa, 0, sizeof pa);
    memset(&m, 0, sizeof m);
    pa.sock = pair[1];
    pa.nfds = nfds;
    memcpy(pa.fds, fds, (size_t)nfds * sizeof(int));
    pa.max_fd = sv->c->a->max_fd;
    pa.r = sv->r;
    pid = clone(prepared_main, sv->stack + SERVE_STACK, CLONE_VM | SIGCHLD, &pa);
    err = errno;
    close(pair[1]);
    close_fds(fds, nfds);
    if (pid < 0) {
        close(pair[0]);
        reply(sv, LC_MSG_ERROR, -1, err, STAGE_CALL);
        return;
    }
    /* It runs in this memory: wait, doing nothing, until it waits itself. */
    if (answer_of(pair[0], &m) == (ssize_t)sizeof m && m.kind == LC_MSG_PREPARED) {
        sv->prepared = (pid_t)pid;
        sv->prepared_fd = pair[0];
        reply(sv, LC_MSG_PREPARED, 0, 0, (int)pid);
        return;
    }
    close(pair[0]);
    while (wait4((pid_t)pid, NULL, __WALL, NULL) < 0 && errno == EINTR)
        ;
    reply(sv, LC_MSG_ERROR, -1, m.kind == LC_MSG_ERROR ? m.err : EPROTO, STAGE_CALL);
}

static void start_program(struct server *sv, const int *fds, int nfds)
{
    struct lc_serve_region *r = sv->r;
    struct lc_msg m;
    ssize_t n;
    pid_t pid = sv->prepared;
    int err = 0;

    if (pid == 0)
        err = ESRCH;
    else if (sv->program != 0)
        err = EBUSY;
    else if (nfds != 3)
        err = EINVAL;
    memset(&r->report, 0, sizeof r->report);
    if (err == 0 && send_record_fds(sv->prepared_fd, LC_MSG_RUN, 0, fds, nfds) < 0)
        err = errno;
    close_fds(fds, nfds);
    if (err != 0) {
        reply(sv, LC_MSG_ERROR, -1, err, STAGE_CALL);
        return;
    }
    /* It runs in this memory: wait until it has exec'd (EOF) or failed. */
    n = answer_of(sv->prepared_fd, &m);
    forget_prepared(sv);
    if ((n == (ssize_t)sizeof m && m.kind == LC_MSG_ERROR) || r->report.kind == LC_MSG_ERROR) {
        if (n != (ssize_t)sizeof m || m.kind != LC_MSG_ERROR)
            m = r->report;
        while (wait4(pid, NULL, __WALL, NULL) < 0 && errno == EINTR)
            ;
        reply(sv, LC_MSG_ERROR, m.step, m.err, m.value);
        return;
    }
    sv->program = pid;
    reply(sv, LC_MSG_STARTED, 0, 0, (int)pid);
}

/* The processes of the box other than the server (its /proc's pids). */
static int count_others(struct server *sv)
{
    char buf[4096];
    long n;
    int count = 0;

    if (sv->proc_fd < 0 || lseek(sv->proc_fd, 0, SEEK_SET) < 0)
        return -1;
    while ((n = syscall(SYS_getdents64, sv->proc_fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const char *name = buf + off + 19; /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
            unsigned short reclen;
            int digits = 1;

            memcpy(&reclen, buf + off + 16, sizeof reclen);
            off += reclen;
            for (const char *p = name; *p; p++)
                digits &= *p >= '0' && *p <= '9';
            if (digits && name[0] != '\0' && !(name[0] == '1' && name[1] == '\0'))
                count++;
        }
    }
    return n < 0 ? -1 : count;
}

/* The program has ended: count what the run left, kill and reap all of
 * it, empty the scratch directories and the ipc namespace; then make the
 * next run's process if it was asked for meanwhile. */
static void end_run(struct server *sv)
{
    int left;

    sv->ended = 0;
    reap(sv, 0);
    left = count_others(sv);
    kill(-1, SIGKILL); /* from PID 1: every other process of the box, at once */
    reap(sv, 1);
    sv->r->scratch_errno = 0;
    for (int i = 0; i < 2; i++)
        if (sv->scratch[i] >= 0 && empty_dir(sv->scratch[i]) < 0 && sv->r->scratch_errno == 0)
            sv->r->scratch_errno = errno;
    remove_ipc_objects();
    reply(sv, LC_MSG_DONE, 0, 0, left);
    if (sv->npending >= 0) {
        int n = sv->npending;

        sv->npending = -1;
        prepare(sv, sv->pending, n);
    }
}

static void open_for_parent(struct server *sv)
{
    int fd = sv->box_fd < 0 ? (errno = ENOENT, -1) : open_beneath(sv->box_fd, sv->r->open_path, sv->r);

    if (fd < 0) {
        reply(sv, LC_MSG_ERROR, -1, errno, STAGE_RESOLVE);
        return;
    }
    if (send_fd(sv->c, LC_MSG_OPENED, fd) < 0)
        _exit(125); /* the parent cannot be answered any more */
    close(fd);
}

static void handle_message(struct server *sv)
{
    int fds[LC_SERVE_MAX_FDS];
    struct lc_msg m;
    int nfds;
    ssize_t n = receive(sv->c->sync_fd, &m, fds, LC_SERVE_MAX_FDS, &nfds);

    if (n == 0)
        _exit(0); /* the parent is gone: the box ends with its PID 1 */
    if (n < 0 && errno == EPROTO) {
        reply(sv, LC_MSG_ERROR, -1, EPROTO, 0);
        return;
    }
    if (n < 0)
        _exit(125);
    if (n != (ssize_t)sizeof m)
        m.kind = 0;
    if (m.kind == LC_MSG_PREPARE) {
        prepare(sv, fds, nfds);
        return;
    }
    if (m.kind == LC_MSG_RUN) {
        start_program(sv, fds, nfds);
        return;
    }
    close_fds(fds, nfds);
    if (m.kind == LC_MSG_KILL) {
        if (sv->program != 0) /* late (the run is over): the next run's process stays */
            kill(-1, SIGKILL);
    }
    else if (m.kind == LC_MSG_OPEN)
        open_for_parent(sv);
    else
        reply(sv, LC_MSG_ERROR, -1, EPROTO, 0);
}

__attribute__((noreturn)) static void serve_loop(struct server *sv)
{
    for (;;) {
        struct signalfd_siginfo info;
        struct pollfd p[2];

        p[0].fd = sv->c->sync_fd;
        p[0].events = POLLIN;
        p[1].fd = sv->signal_fd;
        p[1].events = POLLIN;
        p[0].revents = p[1].revents = 0;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(125);
        }
        if (p[1].revents) {
            while (read(sv->signal_fd, &info, sizeof info) > 0)
                ;
            reap(sv, 0);
            if (sv->ended)
                end_run(sv);
        }
        if (p[0].revents)
            handle_message(sv);
    }
}

static int open_dir(struct child *c, const char *path, int flags)
{
    int fd;

    if (path == NULL)
        return -1;
    fd = open(path, flags | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fail(c, STAGE_RESOLVE);
    return fd;
}

__attribute__((noreturn)) void op_serve(struct child *c, const struct lc_step *s)
{
    struct server sv;
    sigset_t all, chld;

    memset(&sv, 0, sizeof sv);
    sv.prepared_fd = -1;
    sv.npending = -1;
    sv.c = c;
    sv.r = (struct lc_serve_region *)(uintptr_t)s->n1;
    /* Signals wait in the signalfd (SIGCHLD) or stay pending: PID 1 has no
     * handler, and a signal from inside the box must not stop it. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sv.signal_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sv.signal_fd < 0)
        fail(c, STAGE_CALL);
    sv.stack = mmap(NULL, SERVE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (sv.stack == MAP_FAILED)
        fail(c, STAGE_CALL);
    sv.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sv.box_fd = open_dir(c, s->s1, O_PATH);
    sv.scratch[0] = open_dir(c, s->s2, O_RDONLY);
    sv.scratch[1] = open_dir(c, s->s3, O_RDONLY);
    prctl(PR_SET_NAME, "box", 0, 0, 0);
    blank_creator(s, "box");
    send_msg(c->sync_fd, LC_MSG_READY, c->step, 0, 0);
    serve_loop(&sv);
}
