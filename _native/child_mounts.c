/* Child executor: see child.h and executor.c. */
#include "child.h"
#include <sys/statvfs.h> /* ST_NODEV */
#include <sys/sysmacros.h>
#include <sys/vfs.h>

/* mount_setattr(2) on the mount at `fd`: set `set`, clear `clr`, on its
 * whole tree with `recursive`.  Kernels before 5.12: a plain (non-recursive)
 * remount with `remount` flags, or ENOSYS when there are none or it had to
 * be recursive. */
static void mount_setattr_fd(struct child *c, int fd, uint64_t set, uint64_t clr, int recursive,
                             unsigned long remount)
{
    struct lc_mount_attr attr;
    char target[64];
    unsigned int at = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);

    memset(&attr, 0, sizeof attr);
    attr.attr_set = set;
    attr.attr_clr = clr;
    if (syscall(SYS_mount_setattr, fd, "", at, &attr, sizeof attr) == 0)
        return;
    if (errno != ENOSYS || recursive || !remount)
        fail(c, STAGE_ATTR);
    fd_path(target, fd);
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | remount, NULL) < 0)
        fail(c, STAGE_ATTR);
}

/* A bind MOUNT's attributes (n2), after it is made: an atime mode among its
 * remount flags (n3) replaces the whole atime field, as the kernel wants. */
void set_mount_attrs(struct child *c, const struct lc_step *s)
{
    int fd = open_in_root(c->root_fd, s->s1, O_PATH);
    uint64_t clr = (s->n3 & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) ? 0x70 /* MOUNT_ATTR__ATIME */ : 0;

    if (fd < 0)
        fail(c, STAGE_REOPEN);
    mount_setattr_fd(c, fd, (uint64_t)s->n2, clr, s->flags & LC_F_RECURSIVE, (unsigned long)s->n3);
    close(fd);
}

/* MOUNT_ATTR: the attributes of the mount at s1 (inside the root), n1 to
 * set, n2 to clear, on its whole tree with LC_F_RECURSIVE. */
void do_mount_attr(struct child *c, const struct lc_step *s)
{
    int fd = open_in_root(c->root_fd, s->s1, O_PATH);

    if (fd < 0)
        fail(c, STAGE_RESOLVE);
    mount_setattr_fd(c, fd, (uint64_t)s->n1, (uint64_t)s->n2, s->flags & LC_F_RECURSIVE, (unsigned long)s->n3);
    close(fd);
}

/* LC_F_COPY_UP: the tmpfs is mounted writable, filled with what the target
 * directory held (read through an fd opened before the mount), given that
 * directory's mode unless the data set one (LC_F_MODE_SET), as runc does,
 * then made read-only if it was asked to be. */
static void fill_copy_up(struct child *c, const struct lc_step *s, int old_dir)
{
    struct lc_mount_attr attr;
    struct stat st;
    char target[64];
    int fd = open_copy_up_target(c->root_fd, s->s1, old_dir);

    if (fd < 0 || copy_up(old_dir, fd) < 0)
        fail(c, STAGE_COPY_UP);
    if (!(s->flags & LC_F_MODE_SET) && (fstat(old_dir, &st) < 0 || fchmod(fd, st.st_mode & 07777) < 0))
        fail(c, STAGE_COPY_UP);
    close(old_dir);
    if (s->mflags & MS_RDONLY) {
        memset(&attr, 0, sizeof attr);
        attr.attr_set = 0x1; /* MOUNT_ATTR_RDONLY */
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
            if (errno != ENOSYS)
                fail(c, STAGE_ATTR);
            fd_path(target, fd);
            if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | (s->mflags & ~(unsigned long)MS_REC), NULL) < 0)
                fail(c, STAGE_ATTR);
        }
    }
    close(fd);
}

void do_mount(struct child *c, const struct lc_step *s)
{
    char target[64];
    char source[64];
    const char *src = s->s2;
    unsigned long mflags = s->mflags;
    int src_fd = -1;
    int old_dir = -1;
    int dangling = 0;
    int fd = make_path_in_root(c->root_fd, s->s1, s->flags & LC_F_FILE, &dangling);

    if (fd < 0)
        fail(c, dangling ? STAGE_DANGLING : STAGE_RESOLVE);
    fd_path(target, fd);
    if (s->flags & LC_F_COPY_UP) {
        /* The directory the mount will hide: the very one resolved above. */
        old_dir = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (old_dir < 0)
            fail(c, STAGE_COPY_UP);
        mflags &= ~(unsigned long)MS_RDONLY;
    }
    if (s->slot >= 0 && s->slot < c->a->nslots && (src_fd = c->a->slots[s->slot]) >= 0) {
        fd_path(source, src_fd);
        src = source;
    }
    if (mount(src, target, s->s3, mflags, s->s4) < 0)
        fail(c, STAGE_CALL);
    close(fd);
    if (src_fd >= 0) {
        close(src_fd);
        c->a->slots[s->slot] = -1;
    }
    if (old_dir >= 0)
        fill_copy_up(c, s, old_dir);
    if ((s->flags & LC_F_BIND) && s->n2)
        set_mount_attrs(c, s);
    if (s->n1) {
        fd = open_in_root(c->root_fd, s->s1, O_PATH);
        if (fd < 0)
            fail(c, STAGE_REOPEN);
        fd_path(target, fd);
        if (mount(NULL, target, NULL, (unsigned long)s->n1, NULL) < 0)
            fail(c, STAGE_PROPAGATION);
        close(fd);
    }
}

/* The parent directory of `path` inside the root, made (with any missing
 * ancestors) when absent: a device such as /dev/cpu/0/cpuid (podman
 * --privileged) lives below directories the container's /dev lacks. */
static int make_parent_in_root(struct child *c, const char *path, char *buf, const char **name)
{
    char pbuf[PATH_MAX];
    const char *parent;
    int dangling = 0;
    int fd = open_parent_in_root(c->root_fd, path, buf, name);

    if (fd >= 0 || errno != ENOENT)
        return fd;
    if (split_parent(path, pbuf, &parent, name) < 0)
        return -1;
    fd = make_path_in_root(c->root_fd, parent, 0, &dangling);
    if (fd < 0)
        return -1;
    close(fd);
    return open_parent_in_root(c->root_fd, path, buf, name);
}

void do_mknod(struct child *c, const struct lc_step *s)
{
    char buf[PATH_MAX];
    const char *name;
    int pfd = make_parent_in_root(c, s->s1, buf, &name);

    if (pfd < 0)
        fail(c, STAGE_RESOLVE);
    if (mknodat(pfd, name, (mode_t)s->n1, (dev_t)s->n2) < 0) {
        if (errno != EEXIST || unlinkat(pfd, name, 0) < 0 ||
            mknodat(pfd, name, (mode_t)s->n1, (dev_t)s->n2) < 0)
            fail(c, STAGE_CALL);
    }
    if ((s->flags & LC_F_CHOWN) && fchownat(pfd, name, (uid_t)s->n3, (gid_t)s->mflags, AT_SYMLINK_NOFOLLOW) < 0)
        fail(c, STAGE_CALL);
    close(pfd);
}

void do_symlink(struct child *c, const struct lc_step *s)
{
    char buf[PATH_MAX];
    const char *name;
    int pfd = open_parent_in_root(c->root_fd, s->s2, buf, &name);

    if (pfd < 0)
        fail(c, STAGE_RESOLVE);
    if (symlinkat(s->s1, pfd, name) < 0) {
        if (errno != EEXIST || unlinkat(pfd, name, 0) < 0 || symlinkat(s->s1, pfd, name) < 0)
            fail(c, STAGE_CALL);
    }
    close(pfd);
}

/* After pivot_root(".", ".") the old root sits on top of the new one.  Make
 * it (and only it: a path lookup of "." would reach the new root below)
 * a recursive slave, so that detaching it propagates nowhere. */
void detach_old_root(struct child *c, int old_root)
{
    struct lc_mount_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.propagation = MS_SLAVE;
    if (syscall(SYS_mount_setattr, old_root, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_PROPAGATION);
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            fail(c, STAGE_PROPAGATION);
    }
    if (umount2(".", MNT_DETACH) < 0)
        fail(c, STAGE_CALL);
}

void do_pivot_root(struct child *c, const struct lc_step *s)
{
    if (fchdir(c->root_fd) < 0)
        fail(c, STAGE_RESOLVE);
    if (!(s->flags & LC_F_NO_PIVOT)) {
        int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (old_root < 0)
            fail(c, STAGE_RESOLVE);
        if (syscall(SYS_pivot_root, ".", ".") == 0) {
            detach_old_root(c, old_root);
            close(old_root);
            goto done;
        }
        if (errno != EINVAL || (s->flags & LC_F_PIVOT_ONLY))
            fail(c, STAGE_CALL);
        close(old_root);
    }
    /* pivot_root cannot work (initramfs) or was not wanted. */
    hide_host_kernel_fs(c);
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        fail(c, STAGE_CALL);
    if (chroot(".") < 0)
        fail(c, STAGE_CALL);
done:
    if (chdir("/") < 0)
        fail(c, STAGE_RESOLVE);
    close(c->root_fd);
    c->root_fd = -1;
}

/* Without a mount namespace of its own: the root directory becomes this
 * process's root, and no mount changes (they are the caller's). */
void do_chroot(struct child *c, const struct lc_step *s)
{
    int fd = open(s->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fchdir(fd) < 0)
        fail(c, STAGE_RESOLVE);
    close(fd);
    if (chroot(".") < 0)
        fail(c, STAGE_CALL);
    if (chdir("/") < 0)
        fail(c, STAGE_RESOLVE);
}

void do_remount_root_ro(struct child *c)
{
    struct lc_mount_attr attr;

    memset(&attr, 0, sizeof attr);
    attr.attr_set = 0x1; /* MOUNT_ATTR_RDONLY */
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_ATTR);
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
            fail(c, STAGE_ATTR);
    }
}

/* The container's own /dev/null, opened O_PATH, when it is the null device
 * on a mount that lets it open (not nodev) and write (not read-only: a
 * read-only /dev is made so before the masks, and a bind inherits it); else
 * -1. */
static int container_null(struct child *c)
{
    struct stat st;
    struct statfs fs; /* the raw syscall: glibc's fstatvfs may read /proc/mounts */
    int fd = open_in_root(c->root_fd, "/dev/null", O_PATH);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) && fstatfs(fd, &fs) == 0 &&
        !(fs.f_flags & (ST_NODEV | ST_RDONLY)))
        return fd;
    close(fd);
    return -1;
}

/* A path the container must not read: a read-only empty tmpfs over a
 * directory, /dev/null over anything else: the container's own, as runc
 * (its mount table then shows the container's /dev, not the host's devtmpfs
 * and its size), or the host's when the container has none. */
void mask_path(struct child *c, const struct lc_step *s)
{
    char target[64], source[64];
    struct stat st;
    int null_fd, fd = open_in_root(c->root_fd, s->s1, O_PATH);

    if (fd < 0) {
        if (errno == ENOENT)
            return;
        fail(c, STAGE_RESOLVE);
    }
    if (fstat(fd, &st) < 0)
        fail(c, STAGE_RESOLVE);
    fd_path(target, fd);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555") < 0)
            fail(c, STAGE_CALL);
        close(fd);
        return;
    }
    null_fd = container_null(c);
    if (null_fd >= 0)
        fd_path(source, null_fd);
    if (mount(null_fd >= 0 ? source : "/dev/null", target, NULL, MS_BIND, NULL) < 0)
        fail(c, STAGE_CALL);
    if (null_fd >= 0)
        close(null_fd);
    close(fd);
}

void readonly_path(struct child *c, const struct lc_step *s)
{
    struct lc_mount_attr attr;
    char target[64];
    int fd = open_in_root(c->root_fd, s->s1, O_PATH);

    if (fd < 0) {
        if (errno == ENOENT)
            return;
        fail(c, STAGE_RESOLVE);
    }
    fd_path(target, fd);
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        fail(c, STAGE_CALL);
    close(fd);
    fd = open_in_root(c->root_fd, s->s1, O_PATH);
    if (fd < 0)
        fail(c, STAGE_REOPEN);
    memset(&attr, 0, sizeof attr);
    attr.attr_set = 0x1 | 0x2 | 0x4 | 0x8; /* RDONLY NOSUID NODEV NOEXEC */
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        if (errno != ENOSYS)
            fail(c, STAGE_ATTR);
        fd_path(target, fd);
        if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  NULL) < 0)
            fail(c, STAGE_ATTR);
    }
    close(fd);
}
