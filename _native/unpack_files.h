/* Making an image layer's files (libcontainer_py.images.unpack), in the
 * parent only: many small regular files per call, without the GIL. */
#ifndef UNPACK_FILES_H
#define UNPACK_FILES_H

#include <stddef.h>

struct lc_unpack_file {
    int dir_fd;
    unsigned int mode;
    unsigned int uid;
    unsigned int gid;
    const char *name;
    const void *data;
    size_t len;
    long long mtime_sec;
    long mtime_nsec;
};

long lc_unpack_files(const struct lc_unpack_file *files, size_t count, int set_owner, int *err);

#endif
