/* Internal to the child executor: what its files share.  Everything here
 * runs in the child between clone and execve: async-signal-safe only. */
#ifndef LC_CHILD_H
#define LC_CHILD_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/personality.h>
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
/* ioprio_set(2): glibc has no wrapper, and <linux/ioprio.h> is recent. */
#ifndef IOPRIO_WHO_PROCESS
#define IOPRIO_WHO_PROCESS 1
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
#define STAGE_RESOLVE LC_STAGE_RESOLVE
#define STAGE_CALL LC_STAGE_CALL
#define STAGE_ATTR LC_STAGE_ATTR
#define STAGE_PROPAGATION LC_STAGE_PROPAGATION
#define STAGE_REOPEN LC_STAGE_REOPEN
#define STAGE_DANGLING LC_STAGE_DANGLING
#define STAGE_COPY_UP LC_STAGE_COPY_UP
#define STAGE_HANDOFF LC_STAGE_HANDOFF

/* tmpcopyup: how deep a tree is copied (each level costs a getdents64
 * buffer on the 256 KiB child stack); deeper is ELOOP. */
#define LC_COPY_UP_DEPTH 64

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

/* The child's helpers, one file a concern.  Hidden: they are internal to
 * the extension and must never bind to a same-named symbol elsewhere in the
 * process (no PLT, no interposition). */
#pragma GCC visibility push(hidden)

/* child_paths.c: paths resolved inside the root */
void fd_path(char *buf, int fd);
int open_in_root(int root_fd, const char *path, int flags);
int split_parent(const char *path, char *buf, const char **parent, const char **name);
int open_parent_in_root(int root_fd, const char *path, char *buf, const char **name);
int make_path_in_root(int root_fd, const char *path, int is_file, int *dangling);

/* child_mounts.c: mounts, device nodes, symlinks, pivot_root, masking */
void set_mount_attrs(struct child *c, const struct lc_step *s);
void detach_old_root(struct child *c, int old_root);
void do_remount_root_ro(struct child *c);

/* child_process.c: dying with the parent, the working directory */
void die_with_parent(struct child *c, int sig);
void enter_cwd(struct child *c, const char *path);

/* child_hostfs.c: the host's procfs and sysfs out of a chroot'ed namespace */
void hide_host_kernel_fs(struct child *c);

/* child_copyup.c: a tmpfs filled with what was below it (tmpcopyup) */
int copy_up(int old_dir, int new_dir);
int open_copy_up_target(int root_fd, const char *path, int old_dir);

/* child_process.c: network, fds, exec, terminal, init */
void loopback_up(struct child *c);
int clear_cloexec(int fd);
int close_between(const struct lc_spawn_args *a, unsigned int lo, unsigned int hi);
int keeps_fd(struct child *c, unsigned int fd);
long next_kept(struct child *c, unsigned int lo);
void setup_fds(struct child *c);
void do_exec(struct child *c);
void find_exec(struct child *c);
__attribute__((noreturn)) void init_loop(pid_t main_pid, const sigset_t *all);
void blank_creator(const struct lc_step *s, const char *name);

/* executor.c: the steps of c->a, from the first; never returns */
__attribute__((noreturn)) void run_steps(struct child *c);

/* serve.c: a box's server; serve_files.c: what it does to the box's files */
int open_beneath(int dir, const char *path, const struct lc_serve_region *r);
int empty_dir(int dir);
void remove_ipc_objects(void);

/* child_report.c: the sync socket */
void send_msg(int fd, int kind, int step, int err, int value);
__attribute__((noreturn)) void fail(struct child *c, int stage);
void wait_for(struct child *c, int announce, int expect);
int send_record_fds(int sock, int kind, int step, const int *fds, int n);
int send_fd(struct child *c, int kind, int fd);

/* The step functions, one per row of LC_OPS (lc_native.h): in child_ops.c
 * the steps that are one or a few system calls, the others in the file of
 * their concern (child_mounts.c, child_security.c: capabilities, files
 * written, seccomp; child_process.c: terminal, init; serve.c: SERVE, which
 * never returns). */
#define LC_OP_PROTOTYPE(name, number, function, error) \
    void function(struct child *c, const struct lc_step *s);
LC_OPS(LC_OP_PROTOTYPE)

#pragma GCC visibility pop

#endif
