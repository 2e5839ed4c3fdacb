/* Attacks for the escape suite, run inside a container.  Each prints
 * "OK" when the attack worked, or "ERR <errno name>" when it was stopped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>

static int result(int ok)
{
    if (ok)
        printf("OK\n");
    else
        printf("ERR %d %s\n", errno, strerror(errno));
    return 0;
}

/* Open ``path`` with ``flags`` into *fd and read up to ``size`` bytes of it:
 * the count read, or -1 (errno set) when the open or the read failed. */
static ssize_t open_and_read(const char *path, int flags, int *fd, char *buf, size_t size)
{
    *fd = open(path, flags);
    if (*fd < 0)
        return -1;
    return read(*fd, buf, size);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";

    if (!strcmp(what, "mount"))
        return result(mount("none", arg, "tmpfs", 0, NULL) == 0);
    if (!strcmp(what, "module")) {
        /* Past the permission check the kernel fails on the empty image. */
        long rc = syscall(SYS_init_module, "", 0UL, "");
        return result(rc == 0 || errno != EPERM);
    }
    if (!strcmp(what, "write")) {
        /* Write a file's own content back: proves the write, changes nothing. */
        char buf[4096];
        int fd;
        ssize_t n = open_and_read(arg, O_RDWR, &fd, buf, sizeof buf);
        if (n < 0)
            return result(0);
        lseek(fd, 0, SEEK_SET);
        return result(write(fd, buf, (size_t)n) == n);
    }
    if (!strcmp(what, "read")) {
        char buf[256];
        int fd;
        ssize_t n = open_and_read(arg, O_RDONLY, &fd, buf, sizeof buf);
        if (n <= 0) {
            errno = n == 0 ? ENODATA : errno;
            return result(0);
        }
        return result(1);
    }
    if (!strcmp(what, "device")) {
        /* mknod a host device (loop-control, 10:237) and open it. */
        unlink("/dev/attack-dev");
        if (mknod("/dev/attack-dev", S_IFCHR | 0600, makedev(10, 237)) < 0)
            return result(0);
        return result(open("/dev/attack-dev", O_RDWR) >= 0);
    }
    if (!strcmp(what, "console")) {
        /* mknod the system console (5:1: the host's, not the container's
           pty) and open it for writing; nothing is written. */
        unlink("/dev/attack-console");
        if (mknod("/dev/attack-console", S_IFCHR | 0600, makedev(5, 1)) < 0)
            return result(0);
        return result(open("/dev/attack-console", O_WRONLY | O_NOCTTY | O_NONBLOCK) >= 0);
    }
    if (!strcmp(what, "rawsocket"))
        return result(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0);
    if (!strcmp(what, "ptrace")) {
        pid_t pid = (pid_t)atoi(arg);
        if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
            return result(0);
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return result(1);
    }
    if (!strcmp(what, "kill"))
        return result(kill((pid_t)atoi(arg), 0) == 0);
    if (!strcmp(what, "exists")) {
        struct stat st;
        return result(stat(arg, &st) == 0);
    }
    if (!strcmp(what, "fds")) {
        /* Any inherited fd that is a directory outside: fchdir into it. */
        int fd;
        for (fd = 3; fd < 1024; fd++) {
            struct stat st;
            if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && fchdir(fd) == 0 && access(arg, F_OK) == 0)
                return result(1);
        }
        errno = EBADF;
        return result(0);
    }
    if (!strcmp(what, "cwd"))
        return result(access(arg, F_OK) == 0);
    if (!strcmp(what, "hostname")) {
        /* Set the hostname to its own value: proves the permission. */
        char name[256];
        gethostname(name, sizeof name);
        return result(sethostname(name, strlen(name)) == 0);
    }
    if (!strcmp(what, "keyctl"))
        return result(syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, "attack") >= 0);
    if (!strcmp(what, "userns")) {
        /* Regain capabilities in a new user namespace. */
        if (unshare(CLONE_NEWUSER) < 0)
            return result(0);
        return result(1);
    }
    if (!strcmp(what, "rlimit")) {
        /* Exceed RLIMIT_NOFILE: open until it fails, compare with the limit. */
        int count = 0;
        while (open("/dev/null", O_RDONLY) >= 0)
            count++;
        printf("%d ", count);
        return result(count > atoi(arg));
    }
    if (!strcmp(what, "io_uring")) {
        /* Make a ring and drive it: its operations bypass seccomp. */
        unsigned char params[120]; /* struct io_uring_params */
        unsigned char probe[16 + 256 * 8]; /* struct io_uring_probe + ops */
        long ring;
        memset(params, 0, sizeof params);
        memset(probe, 0, sizeof probe);
        ring = syscall(425 /* io_uring_setup */, 4U, params);
        if (ring < 0)
            return result(0);
        if (syscall(427 /* io_uring_register */, (int)ring, 8U /* REGISTER_PROBE */, probe, 256U) < 0)
            return result(0);
        return result(syscall(426 /* io_uring_enter */, (int)ring, 0U, 0U, 0U, NULL, 0UL) == 0);
    }
    fprintf(stderr, "unknown attack %s\n", what);
    return 2;
}
