/* The child-side step executor and the clone that starts it.
 *
 * Between clone and execve the child runs only this file and the child_*.c
 * files (one concern each, see child.h): raw syscalls and async-signal-safe
 * libc calls, no malloc, no stdio, no Python.  Everything it needs (paths,
 * flags, argv, envp, device numbers) was prepared by the parent.  A failing step sends one fixed-size record (step index, errno,
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
 *   ROOT_PROPAGATION n1 propagation flags for s1 (absent: "/") (MS_REC|MS_SLAVE ...)
 *   ROOT_TMPFS       s1 mount point on the host, s2 tmpfs data, mflags
 *   ROOT_BIND        s1 root directory on the host
 *   ROOT_OVERLAY     s1 mount point on the host, s2 overlay data, mflags;
 *                    LC_F_THROWAWAY: first a tmpfs there (s3 its data) with
 *                    upper/, work/ and root/, the overlay going on s4
 *   MOUNT            s1 target inside the root, s2 source, s3 fstype, s4 data,
 *                    mflags, n1 propagation, n2 mount_setattr attr_set,
 *                    n3 remount flags where mount_setattr is missing,
 *                    flags LC_F_FILE / LC_F_RECURSIVE / LC_F_BIND;
 *                    LC_F_COPY_UP (tmpfs): the target directory is opened
 *                    before the mount, the tmpfs mounted writable, the old
 *                    tree copied into it (child_copyup.c: *at() calls that
 *                    follow no symlink, depth LC_COPY_UP_DEPTH), the root
 *                    given the old directory's mode (unless LC_F_MODE_SET:
 *                    the data has mode=), then made read-only if MS_RDONLY
 *   MOUNT_ATTR       s1 mount point inside the root: mount_setattr(2) with
 *                    n1 attr_set, n2 attr_clr, AT_RECURSIVE with
 *                    LC_F_RECURSIVE; n3 remount flags where mount_setattr
 *                    is missing (not recursive; 0: fail with ENOSYS)
 *   MKNOD            s1 path inside the root, n1 mode (S_IFCHR, S_IFBLK or
 *                    S_IFIFO with the permissions), n2 dev; LC_F_CHOWN: then
 *                    owned by uid n3, gid mflags
 *   SYMLINK          s1 link contents, s2 path inside the root
 *   PIVOT_ROOT       flags LC_F_NO_PIVOT, LC_F_PIVOT_ONLY (no chroot fallback)
 *   CHROOT           s1 root directory: chroot into it, no mount made or moved
 *                    (no mount namespace of its own: the mounts are the caller's)
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
 *   PERSONALITY      n1 the execution domain (personality(2): PER_LINUX32 ...)
 *   SCHED_SETATTR    buf a struct sched_attr for sched_setattr(2) (this process)
 *   IOPRIO           n1 an ioprio value for ioprio_set(2) (this process)
 *   SCHED_SETAFFINITY buf a cpu_set_t of buflen bytes (this process)
 *   SET_MEMPOLICY    n1 mode and flags, buf a nodemask of n2 bits (or NULL)
 *   FIND_EXEC        fail unless one of args->exec_paths is a regular file
 *                    these credentials may execute (before a wait to start)
 *   JOIN_CGROUP      n1 fd of a cgroup.procs file: this process moves
 *                    itself in (first step: no user code runs outside)
 *   KEEPCAPS         n1 0/1: PR_SET_KEEPCAPS (permitted caps survive setuid)
 *   DROP_BOUNDING    n1 mask to keep, n2 last capability of this kernel
 *   CAPSET           n1 effective, n2 permitted, n3 inheritable masks
 *   AMBIENT          n1 mask to raise, n2 last capability
 *   NO_NEW_PRIVS     -
 *   RLIMIT           n1 resource, n2 soft, n3 hard
 *   WRITE_FILE       s1 path, opened as it is (/proc/sys/..., /proc/self/...), s2 data
 *   MASK_PATH        s1 path inside the root: a read-only tmpfs over a
 *                    directory, /dev/null over anything else; absent: skip
 *   READONLY_PATH    s1 path inside the root, bound read-only; absent: skip
 *   SECCOMP          buf sock_filter[n1], n2 seccomp(2) flags, n3 1: hand a
 *                    listener over by number (the parent takes it with
 *                    pidfd_getfd), 0: with SCM_RIGHTS
 *   WAIT_ACCEPT      n1 a listening unix socket (bound by the parent to a
 *                    path in the state dir): report READY, wait for GO (the
 *                    state is on disk; EOF: the creator died), then for a
 *                    connection from whoever starts the container (any
 *                    process); failures from here on are reported to it too
 *   TTY              open a pty in the container's /dev/ptmx, give its
 *                    terminal to uid n1 (mode 620), send the master
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
 *   SERVE            become a box's server (serve.c): n1 the address of the
 *                    struct lc_serve_region shared with the parent, s1 the
 *                    box directory (OPEN), s2 and s3 scratch directories
 *                    emptied after each run (or NULL), buf the creator's
 *                    argv and environment areas to blank (as INIT); reports
 *                    READY, then serves the parent's requests for good
 */
#include "child.h"

/* One function per LC_OP_*: run_step only dispatches. */
typedef void (*step_fn)(struct child *, const struct lc_step *);

static const step_fn STEPS[] = {
    [LC_OP_SETNS] = op_setns,
    [LC_OP_UNSHARE] = op_unshare,
    [LC_OP_FORK] = op_fork,
    [LC_OP_WAIT_PARENT] = op_wait_parent,
    [LC_OP_LOOPBACK_UP] = op_loopback_up,
    [LC_OP_ROOT_PROPAGATION] = op_root_propagation,
    [LC_OP_ROOT_TMPFS] = op_root_tmpfs,
    [LC_OP_ROOT_BIND] = op_root_bind,
    [LC_OP_ROOT_OVERLAY] = op_root_overlay,
    [LC_OP_MOUNT] = do_mount,
    [LC_OP_MOUNT_ATTR] = do_mount_attr,
    [LC_OP_MKNOD] = do_mknod,
    [LC_OP_SYMLINK] = do_symlink,
    [LC_OP_PIVOT_ROOT] = do_pivot_root,
    [LC_OP_CHROOT] = do_chroot,
    [LC_OP_REMOUNT_ROOT_RO] = op_remount_root_ro,
    [LC_OP_SETHOSTNAME] = op_sethostname,
    [LC_OP_SETDOMAINNAME] = op_setdomainname,
    [LC_OP_SETUP_FDS] = op_setup_fds,
    [LC_OP_SETGROUPS] = op_setgroups,
    [LC_OP_SETGID] = op_setgid,
    [LC_OP_SETUID] = op_setuid,
    [LC_OP_CHDIR] = op_chdir,
    [LC_OP_UMASK] = op_umask,
    [LC_OP_WAIT_START] = op_wait_start,
    [LC_OP_EXEC] = op_exec,
    [LC_OP_FIND_EXEC] = op_find_exec,
    [LC_OP_PERSONALITY] = op_personality,
    [LC_OP_SCHED_SETATTR] = op_sched_setattr,
    [LC_OP_IOPRIO] = op_ioprio,
    [LC_OP_SCHED_SETAFFINITY] = op_sched_setaffinity,
    [LC_OP_SET_MEMPOLICY] = op_set_mempolicy,
    [LC_OP_KEEPCAPS] = op_keepcaps,
    [LC_OP_DROP_BOUNDING] = drop_bounding,
    [LC_OP_CAPSET] = do_capset,
    [LC_OP_AMBIENT] = raise_ambient,
    [LC_OP_PDEATHSIG] = op_pdeathsig,
    [LC_OP_NO_NEW_PRIVS] = op_no_new_privs,
    [LC_OP_RLIMIT] = op_rlimit,
    [LC_OP_WRITE_FILE] = write_file,
    [LC_OP_MASK_PATH] = mask_path,
    [LC_OP_READONLY_PATH] = readonly_path,
    [LC_OP_SECCOMP] = load_seccomp,
    [LC_OP_WAIT_ACCEPT] = op_wait_accept,
    [LC_OP_TTY] = open_tty,
    [LC_OP_INIT] = become_init,
    [LC_OP_NOT_DUMPABLE] = op_not_dumpable,
    [LC_OP_JOIN_CGROUP] = op_join_cgroup,
    [LC_OP_PREOPEN] = op_preopen,
    [LC_OP_SERVE] = op_serve,
};

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
