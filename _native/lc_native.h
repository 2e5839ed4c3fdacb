/* libcontainer_py native layer: the plan format shared by Python (cffi cdef)
 * and the C child executor.  Everything the child needs is prepared by the
 * parent; the child walks the step array using only async-signal-safe calls. */
#ifndef LC_NATIVE_H
#define LC_NATIVE_H

/* Step operations.  Field use per op is documented in executor.c. */
#define LC_OP_SETNS           1
#define LC_OP_UNSHARE         2
#define LC_OP_FORK            3
#define LC_OP_WAIT_PARENT     4
#define LC_OP_LOOPBACK_UP     5
#define LC_OP_ROOT_PROPAGATION 6
#define LC_OP_ROOT_TMPFS      7
#define LC_OP_ROOT_BIND       8
#define LC_OP_MOUNT           9
#define LC_OP_MKNOD          10
#define LC_OP_SYMLINK        11
#define LC_OP_PIVOT_ROOT     13
#define LC_OP_REMOUNT_ROOT_RO 14
#define LC_OP_SETHOSTNAME    15
#define LC_OP_SETDOMAINNAME  16
#define LC_OP_SETUP_FDS      17
#define LC_OP_SETGROUPS      18
#define LC_OP_SETGID         19
#define LC_OP_SETUID         20
#define LC_OP_CHDIR          21
#define LC_OP_UMASK          22
#define LC_OP_WAIT_START     23
#define LC_OP_EXEC           24
#define LC_OP_PREOPEN        25
#define LC_OP_JOIN_CGROUP    26
#define LC_OP_KEEPCAPS       27
#define LC_OP_DROP_BOUNDING  28
#define LC_OP_CAPSET         29
#define LC_OP_AMBIENT        30
#define LC_OP_NO_NEW_PRIVS   31
#define LC_OP_RLIMIT         32
#define LC_OP_WRITE_FILE     33
#define LC_OP_MASK_PATH      34
#define LC_OP_READONLY_PATH  35
#define LC_OP_SECCOMP        36
#define LC_OP_NOT_DUMPABLE   37
#define LC_OP_WAIT_ACCEPT    38
#define LC_OP_INIT           39
#define LC_OP_TTY            40
#define LC_OP_ROOT_OVERLAY   41
#define LC_OP_FIND_EXEC      42
#define LC_OP_PERSONALITY    43
#define LC_OP_SCHED_SETATTR  44
#define LC_OP_IOPRIO         45
#define LC_OP_SCHED_SETAFFINITY 46
#define LC_OP_SET_MEMPOLICY  47
#define LC_OP_MOUNT_ATTR     48
#define LC_OP_PDEATHSIG      49
#define LC_OP_CHROOT         50
#define LC_OP_SERVE          51

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
