/* Thin syscall wrappers for the parent side: no policy, -1/errno. */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lc_native.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int lc_pidfd_open(int pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int lc_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int lc_pidfd_getfd(int pidfd, int fd)
{
    return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

long lc_bpf(int cmd, void *attr, unsigned int size)
{
    return syscall(SYS_bpf, cmd, attr, size);
}

int lc_seccomp_load(const void *filter, unsigned short count, unsigned int flags)
{
    struct sock_fprog prog;

    prog.len = count;
    prog.filter = (struct sock_filter *)filter;
    return (int)syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &prog);
}
