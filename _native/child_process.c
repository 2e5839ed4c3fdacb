/* Child executor: see child.h and executor.c. */
#include "child.h"

void loopback_up(struct child *c)
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

int clear_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0)
        return -1;
    if (fl & FD_CLOEXEC)
        return fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    return 0;
}

int close_between(const struct lc_spawn_args *a, unsigned int lo, unsigned int hi)
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
int keeps_fd(struct child *c, unsigned int fd)
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
long next_kept(struct child *c, unsigned int lo)
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
void setup_fds(struct child *c)
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

void do_exec(struct child *c)
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

/* Before waiting to be started: fail now, as runc's create does, if no
 * candidate path names a regular file these credentials may execute (an
 * engine maps the error to 127/126 at create).  A check that seccomp or an
 * old kernel refuses (EPERM, ENOSYS) proves nothing: exec will tell. */
void find_exec(struct child *c)
{
    const struct lc_spawn_args *a = c->a;
    struct stat st;
    int saved = 0;
    int i;

    for (i = 0; i < a->nexec; i++) {
        if (stat(a->exec_paths[i], &st) < 0) {
            if (errno == EPERM || errno == ENOSYS)
                return;
            if (saved == 0 && errno != ENOENT && errno != ENOTDIR)
                saved = errno;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            if (saved == 0)
                saved = EACCES;
            continue;
        }
#ifdef SYS_faccessat2
        if (syscall(SYS_faccessat2, AT_FDCWD, a->exec_paths[i], X_OK, AT_EACCESS) == 0)
            return;
#else
        if (access(a->exec_paths[i], X_OK) == 0) /* real ids == effective ones here */
            return;
#endif
        if (errno == EPERM || errno == ENOSYS)
            return;
        if (saved == 0)
            saved = errno;
    }
    errno = saved ? saved : ENOENT;
    fail(c, STAGE_CALL);
}

void open_tty(struct child *c, const struct lc_step *s)
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
    /* The process's user owns its terminal; the group stays devpts's. */
    if (fchown(term, (uid_t)s->n1, (gid_t)-1) < 0 || fchmod(term, 0620) < 0)
        fail(c, STAGE_ATTR);
    if (send_fd(c, LC_MSG_TTY_FD, master) < 0)
        fail(c, STAGE_HANDOFF);
    close(master);
    if (setsid() < 0 || ioctl(term, TIOCSCTTY, 0) < 0)
        fail(c, STAGE_CALL);
    c->tty_fd = term;
}

/* PID 1 for a program that was not written to be one: it forwards signals
 * to the program, reaps every child and exits with the program's status. */
__attribute__((noreturn)) void init_loop(pid_t main_pid, const sigset_t *all)
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

/* PID 1 is a copy of the caller that never execs: blank the caller's argv
 * and environment (the parent checked that each area is writable memory),
 * and call it `name` there. */
void blank_creator(const struct lc_step *s, const char *name)
{
    const uint64_t *area = s->buf;
    size_t len = strlen(name) + 1;

    for (long i = 0; i + 2 <= s->buflen / (long)sizeof *area; i += 2)
        memset((void *)(uintptr_t)area[i], 0, (size_t)(area[i + 1] - area[i]));
    /* ps then shows PID 1 as what it is: the argv area comes first */
    if (s->buflen >= (long)(2 * sizeof *area) && area[1] - area[0] > len)
        memcpy((void *)(uintptr_t)area[0], name, len);
}

void become_init(struct child *c, const struct lc_step *s)
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
    blank_creator(s, "init");
    init_loop((pid_t)pid, &all);
}

/* PR_SET_PDEATHSIG: the kernel sends `sig` when the thread that cloned us
 * exits (the parent keeps that thread for as long as it lives).  If the
 * parent died before this, nobody sends it: a hung-up sync socket says so,
 * and the child gives up as it would have been killed. */
void die_with_parent(struct child *c, int sig)
{
    struct pollfd p;

    if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) < 0)
        fail(c, STAGE_CALL);
    p.fd = c->sync_fd;
    p.events = POLLRDHUP;
    p.revents = 0;
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP)))
        _exit(128 + sig);
}

/* The working directory, entered with the privileges the child still has
 * (as runc: a directory the user could not enter works), then checked to be
 * inside the root: getcwd() fails with ENOENT for a directory that is not
 * reachable from it (a leaked fd's directory, say). */
void enter_cwd(struct child *c, const char *path)
{
    char buf[PATH_MAX];

    if (chdir(path) < 0)
        fail(c, STAGE_CALL);
    if (syscall(SYS_getcwd, buf, sizeof buf) < 0)
        fail(c, STAGE_RESOLVE);
    if (buf[0] != '/') {
        errno = ENOENT;
        fail(c, STAGE_RESOLVE);
    }
}

