/* The child-side step executor and the clone that starts it.
 *
 * Between clone and execve the child runs only this file and the child_*.c
 * files (one concern each, see child.h): raw syscalls and async-signal-safe
 * libc calls, no malloc, no stdio, no Python.  Everything it needs (paths,
 * flags, argv, envp, device numbers) was prepared by the parent.  A
 * failing step sends one fixed-size record (step index, errno, stage) on the
 * close-on-exec sync socket and _exits; EOF on that socket without a record
 * means execve succeeded.
 *
 * What each op's fields carry is in lc_native.h, beside the op (LC_OPS).
 */
#include "child.h"

/* One function per LC_OP_*: run_step only dispatches. */
typedef void (*step_fn)(struct child *, const struct lc_step *);

#define LC_OP_DISPATCH(name, number, function, error) [number] = function,
static const step_fn STEPS[] = { LC_OPS(LC_OP_DISPATCH) };

#define LC_OP_ERROR(name, number, function, error) [number] = #error,
const char *const lc_op_errors[] = { LC_OPS(LC_OP_ERROR) };
const int lc_op_count = sizeof lc_op_errors / sizeof lc_op_errors[0];

static void run_step(struct child *c, const struct lc_step *s)
{
    if (s->op <= 0 || (size_t)s->op >= sizeof STEPS / sizeof STEPS[0] || STEPS[s->op] == NULL) {
        errno = EINVAL;
        fail(c, 0);
    }
    STEPS[s->op](c, s);
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

    for (i = 0; i < a->n_early_keep; i++) {
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
    run_steps(&c);
}

__attribute__((noreturn)) void run_steps(struct child *c)
{
    const struct lc_spawn_args *a = c->a;

    for (c->step = 0; c->step < a->nsteps; c->step++) {
        errno = 0;
        run_step(c, &a->steps[c->step]);
    }
    /* A plan always ends in EXEC (or SERVE); reaching here is a planning bug. */
    errno = EINVAL;
    fail(c, 0);
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
 * stack cannot be had (or clone3 is needed on an architecture without
 * clone3_on_stack), so the caller falls back to a plain clone. */
#define LC_CHILD_STACK (256 * 1024)

#if defined(__x86_64__)
/* clone3 whose child runs fn(arg) on the stack ca names, then exits with
 * its value (child_main execs or _exits first).  clone(2) takes a function
 * but cannot say CLONE_INTO_CGROUP or CLONE_NEWTIME; glibc has no clone3
 * wrapper, so the child's first instructions are here: the kernel starts
 * it after the syscall with rax = 0, the new stack, and our registers
 * (fn and arg ride in r12 and r13). */
static long clone3_on_stack(struct lc_clone_args *ca, int (*fn)(void *), void *arg)
{
    long ret;
    register void *fn_reg __asm__("r12") = (void *)fn;
    register void *arg_reg __asm__("r13") = arg;

    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov %[exit_nr], %%eax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(ret)
                     : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(fn_reg), "r"(arg_reg),
                       [exit_nr] "i"(SYS_exit)
                     : "rcx", "r11", "memory");
    if (ret < 0) { /* the raw syscall: -errno, which libc would have moved to errno */
        errno = (int)-ret;
        return -1;
    }
    return ret;
}
#define LC_HAVE_CLONE3_ON_STACK 1
#endif

static long clone_on_stack(const struct lc_spawn_args *a, struct lc_clone_args *ca, void *stack, int *pidfd)
{
    if (!(ca->flags & (CLONE_INTO_CGROUP | LC_CLONE_NEWTIME)))
        return clone(child_entry, (char *)stack + LC_CHILD_STACK,
                     (int)(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | a->clone_flags | SIGCHLD), (void *)a, pidfd);
    /* A new time namespace is entered only by a child with memory of its
     * own (the kernel switches a CLONE_VM child at its execve, after the
     * offsets could be written): that one takes the plain clone3. */
#ifdef LC_HAVE_CLONE3_ON_STACK
    if (!(ca->flags & LC_CLONE_NEWTIME)) {
        struct lc_clone_args vm = *ca;

        vm.flags |= CLONE_VM | CLONE_VFORK;
        vm.stack = (uint64_t)(uintptr_t)stack;
        vm.stack_size = LC_CHILD_STACK;
        return clone3_on_stack(&vm, child_entry, (void *)a);
    }
#endif
    (void)pidfd;
    return -2;
}

static long spawn_vfork(const struct lc_spawn_args *a, struct lc_clone_args *ca, int *pidfd)
{
    void *stack = mmap(NULL, LC_CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    long pid;
    int saved;

    if (stack == MAP_FAILED)
        return -2;
    pid = clone_on_stack(a, ca, stack, pidfd);
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
    if (a->vfork)
        pid = spawn_vfork(a, &ca, &pidfd);
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
