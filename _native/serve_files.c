/* What a box's server (serve.c) does to the box's files and ipc objects:
 * open a file of the box for the parent (an unprivileged parent cannot,
 * its owners are the box's ids), empty a scratch directory after a run,
 * remove the SysV ipc objects a run left.  Async-signal-safe only. */
#include "child.h"
#include <dirent.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* Directories visited while emptying one, at most: a tree that takes more
 * is left (the caller reports it). */
#define EMPTY_VISITS (1L << 22)

static int same_dev(int fd, dev_t dev)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return 0;
    return st.st_dev == dev;
}

/* The next '/'-separated name of *p into part; 0 at the end, -1 (EINVAL)
 * for a name the parent never sends ("..", too long). */
static int next_name(const char **p, char *part)
{
    const char *s = *p;
    size_t n = 0;

    while (*s == '/')
        s++;
    while (s[n] != '\0' && s[n] != '/')
        n++;
    if (n == 0)
        return 0;
    if (n > NAME_MAX || (n == 2 && s[0] == '.' && s[1] == '.')) {
        errno = EINVAL;
        return -1;
    }
    memcpy(part, s, n);
    part[n] = '\0';
    *p = s + n;
    return 1;
}

/* r->open_path opened inside `dir` (the box) with r->open_flags, without
 * following any symlink or leaving the box's file system; the directories
 * on the way are made with r->open_make_dirs, owned by the box's user as
 * a file O_CREAT makes is (with r->open_mode).  Only a regular file is
 * returned, or the box directory itself (O_PATH) for ".".  -1/errno. */
int open_beneath(int dir, const char *path, const struct lc_serve_region *r)
{
    char part[NAME_MAX + 1], next[NAME_MAX + 1];
    struct stat box, st;
    const char *p = path;
    int cur, fd, got;

    if (path == NULL || fstat(dir, &box) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (path[0] == '.' && path[1] == '\0') /* the box directory itself */
        return openat(dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    got = next_name(&p, part);
    if (got <= 0) {
        errno = got == 0 ? EINVAL : errno;
        return -1;
    }
    cur = openat(dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -1;
    while ((got = next_name(&p, next)) > 0) {
        int sub;

        if (r->open_make_dirs && mkdirat(cur, part, 0755) == 0)
            fchownat(cur, part, (uid_t)r->open_uid, (gid_t)r->open_gid, AT_SYMLINK_NOFOLLOW);
        sub = openat(cur, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(cur);
        if (sub < 0)
            return -1;
        if (!same_dev(sub, box.st_dev)) {
            close(sub);
            errno = EXDEV;
            return -1;
        }
        cur = sub;
        memcpy(part, next, sizeof part);
    }
    if (got < 0) {
        close(cur);
        return -1;
    }
    fd = openat(cur, part, r->open_flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)r->open_mode);
    close(cur);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != box.st_dev) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if ((r->open_flags & O_CREAT) &&
        (fchown(fd, (uid_t)r->open_uid, (gid_t)r->open_gid) < 0 || fchmod(fd, (mode_t)r->open_mode) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One pass over `dir`: unlink what is not a directory; the first
 * subdirectory's name goes to `sub` (returns 1), else 0; -1/errno. */
static int unlink_files(int dir, char *sub, int *removed)
{
    char buf[4096];
    long n;

    if (lseek(dir, 0, SEEK_SET) < 0)
        return -1;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const char *name = buf + off + 19; /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
            unsigned char type = (unsigned char)buf[off + 18];
            unsigned short reclen;

            memcpy(&reclen, buf + off + 16, sizeof reclen);
            off += reclen;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
                continue;
            if (type != DT_DIR && unlinkat(dir, name, 0) == 0) {
                (*removed)++;
                continue;
            }
            if (type == DT_DIR || errno == EISDIR) {
                size_t len = strlen(name);

                memcpy(sub, name, len + 1);
                return 1;
            }
            if (errno != ENOENT)
                return -1;
        }
    }
    return n < 0 ? -1 : 0;
}

/* Remove everything below the directory `top` (left open), whatever its
 * depth, without recursion: go down into a subdirectory until one has
 * none, unlink its files, go back up ("..") and remove it.  Nothing of the
 * box runs meanwhile, so nothing moves under the walk.  0, or -1/errno. */
int empty_dir(int top)
{
    char sub[NAME_MAX + 1];
    long visits = 0;
    int depth = 0;
    int cur = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (cur < 0)
        return -1;
    while (visits++ < EMPTY_VISITS) {
        int removed = 0;
        int found = unlink_files(cur, sub, &removed);
        int next;

        if (found < 0)
            break;
        if (found == 0 && removed > 0)
            continue; /* look again: unlinking while listing may skip names */
        if (found) {
            if (unlinkat(cur, sub, AT_REMOVEDIR) == 0)
                continue;
            if (errno != ENOTEMPTY && errno != EEXIST)
                break;
            next = openat(cur, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            depth++;
        } else if (depth == 0) {
            close(cur);
            return 0;
        } else {
            next = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            depth--;
        }
        if (next < 0)
            break;
        close(cur);
        cur = next;
    }
    if (visits > EMPTY_VISITS)
        errno = ELOOP;
    {
        int saved = errno;

        close(cur);
        errno = saved;
    }
    return -1;
}

union lc_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *info;
};

/* Every SysV shared memory segment, semaphore set and message queue of the
 * box's ipc namespace (a run's leftovers: the next run starts without). */
void remove_ipc_objects(void)
{
    struct shm_info shm;
    struct shmid_ds shm_ds;
    struct seminfo sem;
    struct semid_ds sem_ds;
    struct msginfo msg;
    struct msqid_ds msg_ds;
    union lc_semun arg;
    int last, i, id;

    last = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&shm);
    for (i = 0; last >= 0 && shm.used_ids > 0 && i <= last; i++)
        if ((id = shmctl(i, SHM_STAT, &shm_ds)) >= 0)
            shmctl(id, IPC_RMID, NULL);
    arg.info = &sem;
    last = semctl(0, 0, SEM_INFO, arg);
    for (i = 0; last >= 0 && sem.semusz > 0 && i <= last; i++) {
        arg.buf = &sem_ds;
        if ((id = semctl(i, 0, SEM_STAT, arg)) >= 0)
            semctl(id, 0, IPC_RMID, arg);
    }
    last = msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&msg);
    for (i = 0; last >= 0 && msg.msgpool > 0 && i <= last; i++)
        if ((id = msgctl(i, MSG_STAT, &msg_ds)) >= 0)
            msgctl(id, IPC_RMID, NULL);
}
