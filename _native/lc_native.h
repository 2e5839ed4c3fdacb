/* libcontainer_py native layer: the plan format shared by Python (cffi cdef)
 * and the C child executor.  Everything the child needs is prepared by the
 * parent; the child walks the step array using only async-signal-safe calls. */
#ifndef LC_NATIVE_H
#define LC_NATIVE_H

/* The child's steps: one row per operation, the one place the Python<->C
 * contract names them.  X(NAME, number, function, error class) gives
 * LC_OP_NAME (enum lc_op below), the function's prototype (child.h), its
 * entry in the executor's dispatch table (STEPS, executor.c), and the
 * ContainerError subclass a failure of the step raises in Python
 * (lc_op_errors; plan/steps.py derives its Op enum from the LC_OP_* names).
 * The comment above a row says what the step's fields carry (s1..s4
 * strings, n1..n3 numbers, buf/buflen, mflags, flags, slot).  A number
 * is never reused (12 was a step that is gone). */
#define LC_OPS(X)                                                             \
    /* SETNS: n1 fd, n2 nstype */                                             \
    X(SETNS, 1, op_setns, NamespaceError)                                     \
    /* UNSHARE: n1 flags */                                                   \
    X(UNSHARE, 2, op_unshare, NamespaceError)                                 \
    /* FORK: n1 extra clone flags; the new process is a sibling of this       \
       one (CLONE_PARENT), this one reports its pid, exits */                 \
    X(FORK, 3, op_fork, NamespaceError)                                       \
    /* WAIT_PARENT: no fields */                                              \
    X(WAIT_PARENT, 4, op_wait_parent, NamespaceError)                         \
    /* LOOPBACK_UP: no fields */                                              \
    X(LOOPBACK_UP, 5, op_loopback_up, NamespaceError)                         \
    /* ROOT_PROPAGATION: n1 propagation flags for s1 (absent: "/")            \
       (MS_REC|MS_SLAVE ...) */                                               \
    X(ROOT_PROPAGATION, 6, op_root_propagation, MountError)                   \
    /* ROOT_TMPFS: s1 mount point on the host, s2 tmpfs data, mflags */       \
    X(ROOT_TMPFS, 7, op_root_tmpfs, MountError)                               \
    /* ROOT_BIND: s1 root directory on the host */                            \
    X(ROOT_BIND, 8, op_root_bind, MountError)                                 \
    /* MOUNT: s1 target inside the root, s2 source, s3 fstype, s4 data,       \
       mflags, n1 propagation, n2 mount_setattr attr_set, n3 remount flags    \
       where mount_setattr is missing, flags LC_F_FILE / LC_F_RECURSIVE /     \
       LC_F_BIND; LC_F_COPY_UP (tmpfs): the target directory is opened        \
       before the mount, the tmpfs mounted writable, the old tree copied      \
       into it (child_copyup.c: *at() calls that follow no symlink, depth     \
       LC_COPY_UP_DEPTH), the root given the old directory's mode (unless     \
       LC_F_MODE_SET: the data has mode=), then made read-only if             \
       MS_RDONLY */                                                           \
    X(MOUNT, 9, do_mount, MountError)                                         \
    /* MKNOD: s1 path inside the root, n1 mode (S_IFCHR, S_IFBLK or           \
       S_IFIFO with the permissions), n2 dev; LC_F_CHOWN: then owned by       \
       uid n3, gid mflags */                                                  \
    X(MKNOD, 10, do_mknod, MountError)                                        \
    /* SYMLINK: s1 link contents, s2 path inside the root */                  \
    X(SYMLINK, 11, do_symlink, MountError)                                    \
    /* PIVOT_ROOT: flags LC_F_NO_PIVOT, LC_F_PIVOT_ONLY (no chroot            \
       fallback) */                                                           \
    X(PIVOT_ROOT, 13, do_pivot_root, MountError)                              \
    /* REMOUNT_ROOT_RO: no fields */                                          \
    X(REMOUNT_ROOT_RO, 14, op_remount_root_ro, MountError)                    \
    /* SETHOSTNAME: s1 */                                                     \
    X(SETHOSTNAME, 15, op_sethostname, IdentityError)                         \
    /* SETDOMAINNAME: s1 */                                                   \
    X(SETDOMAINNAME, 16, op_setdomainname, IdentityError)                     \
    /* SETUP_FDS: uses args->stdio and args->keep_fds */                      \
    X(SETUP_FDS, 17, op_setup_fds, StepError)                                 \
    /* SETGROUPS: buf gid_t[n1] */                                            \
    X(SETGROUPS, 18, op_setgroups, IdentityError)                             \
    /* SETGID: n1 */                                                          \
    X(SETGID, 19, op_setgid, IdentityError)                                   \
    /* SETUID: n1 */                                                          \
    X(SETUID, 20, op_setuid, IdentityError)                                   \
    /* CHDIR: s1 */                                                           \
    X(CHDIR, 21, op_chdir, CwdError)                                          \
    /* UMASK: n1 */                                                           \
    X(UMASK, 22, op_umask, StepError)                                         \
    /* WAIT_START: no fields */                                               \
    X(WAIT_START, 23, op_wait_start, StepError)                               \
    /* EXEC: uses args->exec_paths, argv, envp */                             \
    X(EXEC, 24, op_exec, ExecError)                                           \
    /* PREOPEN: s1 host path opened O_PATH into args->slots[slot] (a MOUNT    \
       with slot >= 0 binds from that fd: the lookup was done before the      \
       credentials changed) */                                                \
    X(PREOPEN, 25, op_preopen, MountError)                                    \
    /* JOIN_CGROUP: n1 fd of a cgroup.procs file: this process moves          \
       itself in (first step: no user code runs outside) */                   \
    X(JOIN_CGROUP, 26, op_join_cgroup, CgroupJoinError)                       \
    /* KEEPCAPS: n1 0/1: PR_SET_KEEPCAPS (permitted caps survive setuid) */   \
    X(KEEPCAPS, 27, op_keepcaps, SecurityError)                               \
    /* DROP_BOUNDING: n1 mask to keep, n2 last capability of this kernel */   \
    X(DROP_BOUNDING, 28, drop_bounding, SecurityError)                        \
    /* CAPSET: n1 effective, n2 permitted, n3 inheritable masks */            \
    X(CAPSET, 29, do_capset, SecurityError)                                   \
    /* AMBIENT: n1 mask to raise, n2 last capability */                       \
    X(AMBIENT, 30, raise_ambient, SecurityError)                              \
    /* NO_NEW_PRIVS: no fields */                                             \
    X(NO_NEW_PRIVS, 31, op_no_new_privs, SecurityError)                       \
    /* RLIMIT: n1 resource, n2 soft, n3 hard */                               \
    X(RLIMIT, 32, op_rlimit, SecurityError)                                   \
    /* WRITE_FILE: s1 path, opened as it is (/proc/sys/...,                   \
       /proc/self/...), s2 data */                                            \
    X(WRITE_FILE, 33, write_file, SecurityError)                              \
    /* MASK_PATH: s1 path inside the root: a read-only tmpfs over a           \
       directory, /dev/null over anything else; absent: skip */               \
    X(MASK_PATH, 34, mask_path, MountError)                                   \
    /* READONLY_PATH: s1 path inside the root, bound read-only; absent:       \
       skip */                                                                \
    X(READONLY_PATH, 35, readonly_path, MountError)                           \
    /* SECCOMP: buf sock_filter[n1], n2 seccomp(2) flags, n3 1: hand a        \
       listener over by number (the parent takes it with pidfd_getfd), 0:     \
       with SCM_RIGHTS */                                                     \
    X(SECCOMP, 36, load_seccomp, SecurityError)                               \
    /* NOT_DUMPABLE: no fields: no ptrace, no /proc/<pid>/mem|exe|environ     \
       for anyone else until execve (a process joining a running container    \
       is a copy of the caller until then: CVE-2019-5736) */                  \
    X(NOT_DUMPABLE, 37, op_not_dumpable, SecurityError)                       \
    /* WAIT_ACCEPT: n1 a listening unix socket (bound by the parent to a      \
       path in the state dir): report READY, wait for GO (the state is on     \
       disk; EOF: the creator died), then for a connection from whoever       \
       starts the container (any process); failures from here on are          \
       reported to it too */                                                  \
    X(WAIT_ACCEPT, 38, op_wait_accept, StepError)                             \
    /* INIT: fork: the new process goes on to exec the program; this one      \
       stays PID 1, reaps every child, forwards signals to the program and    \
       exits with its status */                                               \
    X(INIT, 39, become_init, StepError)                                       \
    /* TTY: open a pty in the container's /dev/ptmx, give its terminal to     \
       uid n1 (mode 620), send the master to the parent, become a session     \
       leader with the pty as controlling terminal; SETUP_FDS then puts it    \
       on 0/1/2 */                                                            \
    X(TTY, 40, open_tty, StepError)                                           \
    /* ROOT_OVERLAY: s1 mount point on the host, s2 overlay data, mflags;     \
       LC_F_THROWAWAY: first a tmpfs there (s3 its data) with upper/,         \
       work/ and root/, the overlay going on s4 */                            \
    X(ROOT_OVERLAY, 41, op_root_overlay, MountError)                          \
    /* FIND_EXEC: fail unless one of args->exec_paths is a regular file       \
       these credentials may execute (before a wait to start) */              \
    X(FIND_EXEC, 42, op_find_exec, ExecError)                                 \
    /* PERSONALITY: n1 the execution domain (personality(2): PER_LINUX32      \
       ...) */                                                                \
    X(PERSONALITY, 43, op_personality, SecurityError)                         \
    /* SCHED_SETATTR: buf a struct sched_attr for sched_setattr(2) (this      \
       process) */                                                            \
    X(SCHED_SETATTR, 44, op_sched_setattr, SecurityError)                     \
    /* IOPRIO: n1 an ioprio value for ioprio_set(2) (this process) */         \
    X(IOPRIO, 45, op_ioprio, SecurityError)                                   \
    /* SCHED_SETAFFINITY: buf a cpu_set_t of buflen bytes (this process) */   \
    X(SCHED_SETAFFINITY, 46, op_sched_setaffinity, SecurityError)             \
    /* SET_MEMPOLICY: n1 mode and flags, buf a nodemask of n2 bits (or        \
       NULL) */                                                               \
    X(SET_MEMPOLICY, 47, op_set_mempolicy, SecurityError)                     \
    /* MOUNT_ATTR: s1 mount point inside the root: mount_setattr(2) with      \
       n1 attr_set, n2 attr_clr, AT_RECURSIVE with LC_F_RECURSIVE; n3         \
       remount flags where mount_setattr is missing (not recursive; 0:        \
       fail with ENOSYS) */                                                   \
    X(MOUNT_ATTR, 48, do_mount_attr, MountError)                              \
    /* PDEATHSIG: n1 the signal sent to this process when the thread that     \
       cloned it exits (PR_SET_PDEATHSIG) */                                  \
    X(PDEATHSIG, 49, op_pdeathsig, MountError)                                \
    /* CHROOT: s1 root directory: chroot into it, no mount made or moved      \
       (no mount namespace of its own: the mounts are the caller's) */        \
    X(CHROOT, 50, do_chroot, MountError)                                      \
    /* SERVE: become a box's server (serve.c): n1 the address of the          \
       struct lc_serve_region shared with the parent, s1 the box directory    \
       (OPEN), s2 and s3 scratch directories emptied after each run (or       \
       NULL), buf the creator's argv and environment areas to blank (as       \
       INIT); reports READY, then serves the parent's requests for good */    \
    X(SERVE, 51, op_serve, StepError)                                         \
    /* SETSID: no fields: a session and process group of its own (setsid(2)), \
       as an OCI runtime's processes have; with a terminal TTY does it */     \
    X(SETSID, 52, op_setsid, StepError)                                       \
    /* KEYRING: join the session keyring named s1, made if there is none     \
       (the caller's is not shared), and add the permission bits n1 to it     \
       (0: only join); a kernel without keyrings (ENOSYS): nothing, as runc */\
    X(KEYRING, 53, op_keyring, SecurityError)                                 \
    /* MKDIRS: s1 an absolute path in the root the process sees (after       \
       PIVOT_ROOT), made with its missing parents, mode n1 (the child's       \
       umask is 0); existing ones are kept (a file in the way fails CHDIR) */ \
    X(MKDIRS, 54, op_mkdirs, CwdError)

#define LC_OP_ENUM(name, number, function, error) LC_OP_##name = number,
enum lc_op { LC_OPS(LC_OP_ENUM) };

/* The error class of each op by number (NULL between them), as a Python
 * name of libcontainer_py.errors; lc_op_count entries (executor.c). */
extern const char *const lc_op_errors[];
extern const int lc_op_count;

/* Step flags. */
#define LC_F_FILE        0x1   /* MOUNT: the target is a file, not a directory */
#define LC_F_RECURSIVE   0x2   /* MOUNT, MOUNT_ATTR: apply attributes recursively */
#define LC_F_NO_PIVOT    0x4   /* PIVOT_ROOT: use MS_MOVE + chroot instead */
#define LC_F_BIND        0x8   /* MOUNT: bind mount (attributes set afterwards) */
#define LC_F_PIVOT_ONLY  0x10  /* PIVOT_ROOT: never fall back to chroot */
#define LC_F_THROWAWAY   0x40  /* ROOT_OVERLAY: upper and work on a fresh tmpfs */
#define LC_F_COPY_UP     0x80  /* MOUNT: copy what the target held into the new tmpfs */
#define LC_F_CHOWN       0x200 /* MKNOD: chown the node to n3:mflags */
#define LC_F_MODE_SET    0x100 /* MOUNT, LC_F_COPY_UP: the data says mode=, which the root keeps */

/* Messages on the sync socket (SOCK_SEQPACKET, fixed size). */
#define LC_MSG_ERROR      1    /* child -> parent: step failed (step, err) */
#define LC_MSG_CHILD_PID  2    /* child -> parent: the process that goes on (value) */
#define LC_MSG_WAITING    3    /* child -> parent: waiting for the parent's part */
#define LC_MSG_GO         4    /* parent -> child: go on */
#define LC_MSG_READY      5    /* child -> parent: set up, waiting for start */
#define LC_MSG_START      6    /* parent -> child: exec now */
#define LC_MSG_SECCOMP_FD 7    /* child -> parent: the seccomp listener's number (value), for pidfd_getfd */
#define LC_MSG_TTY_FD     8    /* child -> parent: the pty master (SCM_RIGHTS) */

/* What a failing step was doing when it failed: the `value` of an ERROR
 * record.  0: the step itself (no particular stage). */
#define LC_STAGE_RESOLVE     1  /* resolving the path in the root */
#define LC_STAGE_CALL        2  /* the call itself */
#define LC_STAGE_ATTR        3  /* setting mount attributes */
#define LC_STAGE_PROPAGATION 4  /* setting propagation */
#define LC_STAGE_REOPEN      5  /* reopening the mount */
#define LC_STAGE_DANGLING    6  /* a symlink on the path leads out of the root */
#define LC_STAGE_COPY_UP     7  /* copying into a new tmpfs (tmpcopyup) */
#define LC_STAGE_HANDOFF     8  /* handing an fd to the parent */

/* Messages between the parent and a box's server (SERVE), on the sync
 * socket.  A failed PREPARE, RUN or OPEN is answered with LC_MSG_ERROR. */
#define LC_MSG_PREPARE    9    /* parent -> server: make the next run's process, which joins
                                  the cgroups of the cgroup.procs files attached (SCM_RIGHTS)
                                  and waits; during a run, once it is over; then PREPARED */
#define LC_MSG_PREPARED  10    /* server -> parent: it waits in its cgroups (value: its pid) */
#define LC_MSG_RUN       11    /* parent -> server: the prepared process runs the region's
                                  steps and execs; SCM_RIGHTS: stdin, stdout, stderr */
#define LC_MSG_STARTED   12    /* server -> parent: it exec'd (value: its pid in the box) */
#define LC_MSG_EXITED    13    /* server -> parent: it ended (value: its wait status; the
                                  region's exited_ns: when) */
#define LC_MSG_KILL      14    /* parent -> server: SIGKILL every process of the box but itself */
#define LC_MSG_DONE      15    /* server -> parent: after EXITED, what the run left was counted
                                  (value), killed and reaped, the scratch directories emptied */
#define LC_MSG_OPEN      16    /* parent -> server: open the region's open_path in the box */
#define LC_MSG_OPENED    17    /* server -> parent: the file (SCM_RIGHTS) */

/* A run's stdio lands on LC_SERVE_FD_BASE + 0, 1, 2 in its process, which
 * the run's SETUP_FDS puts on 0, 1, 2. */
#define LC_SERVE_FD_BASE 64
#define LC_SERVE_MAX_FDS 16

struct lc_msg {
    int kind;
    int step;
    int err;
    int value;
};

struct lc_step {
    int op;
    int flags;
    unsigned long mflags;   /* mount(2) flags */
    long n1;                /* op-specific number */
    long n2;
    long n3;
    const char *s1;         /* op-specific strings */
    const char *s2;
    const char *s3;
    const char *s4;
    const void *buf;        /* op-specific buffer */
    long buflen;
    int slot;               /* PREOPEN: slot to fill; MOUNT: source fd slot; or -1 */
};

/* Memory shared by the parent and a box's server (MAP_SHARED, made before
 * the box's clone): the parent writes a request here before its message, the
 * server its results before its answer. */
struct lc_serve_region {
    const struct lc_step *steps;   /* RUN: the program's steps, ending in EXEC */
    char *const *argv;             /* RUN: its argv, environment and the paths */
    char *const *envp;             /*      execve tries in order */
    char *const *exec_paths;
    int nsteps;
    int nexec;
    struct lc_msg report;          /* RUN: the step its process failed, if any */
    const char *open_path;         /* OPEN: relative to the box directory */
    int open_flags;                /* OPEN: O_RDONLY, or O_WRONLY|O_CREAT|O_TRUNC */
    int open_mode;                 /* OPEN: the mode of the file it makes */
    int open_uid;                  /* OPEN: the owner of what it makes */
    int open_gid;
    int open_make_dirs;            /* OPEN: make the directories on the way */
    int scratch_errno;             /* DONE: why a scratch directory is not empty, or 0 */
    long long exited_ns;           /* EXITED: when (CLOCK_MONOTONIC) */
    long long reaped_user_usec;    /* CPU time of every process the server reaped */
    long long reaped_sys_usec;     /* (with what they reaped), since it started */
};

struct lc_spawn_args {
    unsigned long clone_flags;  /* CLONE_NEW* flags for the first clone */
    int cgroup_fd;              /* >= 0: CLONE_INTO_CGROUP */
    int vfork;                  /* the child never waits for the parent: share
                                   its memory and suspend it until execve */
    int sync_fd;                /* the child's end of the sync socket */
    const struct lc_step *steps;
    int nsteps;
    int stdio[3];               /* fd for 0/1/2 in the child, or -1 to inherit */
    const int *keep_fds;        /* sorted fds passed through to the process */
    int nkeep;
    char *const *argv;
    char *const *envp;
    char *const *exec_paths;    /* candidate paths tried in order */
    int nexec;
    int max_fd;                 /* for the close fallback without close_range */
    int *slots;                 /* fds opened by PREOPEN steps (child's copy) */
    int nslots;
    const int *early_keep;      /* sorted fds the child needs: it closes all
                                   others first thing (other threads' fds) */
    int n_early_keep;
    struct lc_msg *report;      /* shared memory the parent touched: a failed
                                   step is written here too, for when the
                                   socket cannot take it (a memory limit too
                                   small for a socket buffer), or NULL */
};

/* Clone the child that runs the plan.  Returns the child's pid (the parent
 * keeps running) or -1 with errno set.  *pidfd_out gets a pidfd or -1. */
int lc_spawn(const struct lc_spawn_args *args, int *pidfd_out);

/* Small syscall wrappers the parent side uses (syscalls.c).  Each returns
 * -1 with errno set on failure. */
int lc_pidfd_open(int pid);
int lc_pidfd_send_signal(int pidfd, int sig);
/* A copy of fd `fd` of the process of `pidfd` (close-on-exec), or -1/errno. */
int lc_pidfd_getfd(int pidfd, int fd);
/* bpf(2): attr points at a zero-padded union bpf_attr of `size` bytes. */
long lc_bpf(int cmd, void *attr, unsigned int size);
/* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with a classic-BPF program of
 * `count` 8-byte struct sock_filter instructions; returns what seccomp(2)
 * returns (a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER). */
int lc_seccomp_load(const void *filter, unsigned short count, unsigned int flags);

#endif
