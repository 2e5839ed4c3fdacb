/* Making an image layer's files (libcontainer_py.images.unpack), in the
 * parent only: one call, without the GIL, per small regular file. */
#ifndef UNPACK_FILES_H
#define UNPACK_FILES_H

#include <stddef.h>

int lc_unpack_file(int dir_fd, const char *name, const void *data, size_t len, unsigned int mode,
                   int set_owner, unsigned int uid, unsigned int gid, long long mtime_sec, long mtime_nsec);

#endif
