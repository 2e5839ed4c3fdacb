/* One tar header block parsed as tarfile's TarInfo.frombuf: see tar_header.h. */
#include <stdint.h>
#include <string.h>

#include "tar_header.h"

/* The whitespace Python's str.strip() and int() skip, in ASCII. */
static int py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

#define NUMBER_MAX ((__int128)1 << 62)

/* A number field: GNU base-256 when its first byte is 0200 or 0377, else
 * octal up to its first NUL, as int(text.strip() or "0", 8).  LC_TAR_OK
 * with *value set, LC_TAR_INVALID, or LC_TAR_PYTHON. */
static int number(const unsigned char *field, size_t len, long long *value)
{
    if (field[0] == 0200 || field[0] == 0377) {
        __int128 n = 0;
        for (size_t i = 1; i < len; i++)
            n = (n << 8) | field[i]; /* at most 11 bytes: 88 bits */
        if (field[0] == 0377)
            n -= (__int128)1 << (8 * (len - 1));
        if (n > NUMBER_MAX || n < -NUMBER_MAX)
            return LC_TAR_PYTHON;
        *value = (long long)n;
        return LC_TAR_OK;
    }
    const unsigned char *end = memchr(field, 0, len);
    size_t n = end ? (size_t)(end - field) : len;
    size_t start = 0;
    while (start < n && py_space(field[start]))
        start++;
    while (n > start && py_space(field[n - 1]))
        n--;
    long long v = 0;
    int odd = 0;
    for (size_t i = start; i < n; i++) {
        unsigned char c = field[i];
        if (c >= '0' && c <= '7')
            v = v * 8 + (c - '0'); /* at most 12 digits: 36 bits */
        else if (c == '+' || c == '-' || c == '_' || c == 'o' || c == 'O')
            odd = 1; /* a sign, 0o or an underscore: int() decides */
        else
            return LC_TAR_INVALID; /* not ASCII, 8, 9, inner space...: int() refuses it */
    }
    if (odd)
        return LC_TAR_PYTHON;
    *value = v;
    return LC_TAR_OK;
}

static size_t text_len(const unsigned char *field, size_t len)
{
    const unsigned char *end = memchr(field, 0, len);
    return end ? (size_t)(end - field) : len;
}

/* The header in block[0..512) (ustar, GNU or v7 layout).  The checks come
 * in tarfile's order: zero block, checksum field, checksum, then the
 * numbers in field order (a negative size stops before mtime).  On
 * LC_TAR_OK, out[] holds the lengths of the name, linkname and prefix
 * fields up to their NUL, then mode, uid, gid, size, mtime, devmajor,
 * devminor. */
int lc_tar_header(const char *block, long long *out)
{
    const unsigned char *b = (const unsigned char *)block;
    int zero = 1;
    for (size_t i = 0; i < 512 && zero; i++)
        zero = b[i] == 0;
    if (zero)
        return LC_TAR_ZERO;
    long long checksum;
    int rc = number(b + 148, 8, &checksum);
    if (rc != LC_TAR_OK)
        return rc;
    long long unsigned_sum = 256, signed_sum = 256;
    for (size_t i = 0; i < 512; i++) {
        if (i == 148) {
            i = 155;
            continue;
        }
        unsigned_sum += b[i];
        signed_sum += (signed char)b[i];
    }
    if (checksum != unsigned_sum && checksum != signed_sum)
        return LC_TAR_CHECKSUM;
    static const struct {
        unsigned short offset, len;
    } fields[] = {{100, 8}, {108, 8}, {116, 8}, {124, 12}, {136, 12}, {329, 8}, {337, 8}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        rc = number(b + fields[i].offset, fields[i].len, &out[3 + i]);
        if (rc != LC_TAR_OK)
            return rc;
        if (i == 3 && out[6] < 0)
            return LC_TAR_NEGATIVE;
    }
    out[0] = (long long)text_len(b, 100);
    out[1] = (long long)text_len(b + 157, 100);
    out[2] = (long long)text_len(b + 345, 155);
    return LC_TAR_OK;
}

/* The headers of buf[pos..len) read ahead, one after another: a record of
 * LC_TAR_RECORD per header (its status, its offset, then lc_tar_header's
 * fields), the next header expected after the data its size announces.
 * Stops after max records, after a status that is not LC_TAR_OK, at an
 * old GNU sparse header (extension blocks follow it), or when the next
 * block is not whole in buf.  Returns the number of records.  Nothing
 * here decides what the archive holds: the reader takes a record only
 * for the block at that offset of the same buffer (a pax size record may
 * move the next header elsewhere), so a guess that is wrong costs a call. */
long lc_tar_headers(const char *buf, size_t len, size_t pos, long long *out, long max)
{
    long n = 0;
    while (n < max && len >= 512 && pos <= len - 512) {
        long long *rec = out + n * LC_TAR_RECORD;
        int status = lc_tar_header(buf + pos, rec + 2);
        rec[0] = status;
        rec[1] = (long long)pos;
        n++;
        unsigned char kind = (unsigned char)buf[pos + 156];
        if (status != LC_TAR_OK || kind == 'S')
            break;
        if (kind == 0 && rec[2] > 0 && buf[pos + rec[2] - 1] == '/')
            kind = '5'; /* v7: a directory */
        pos += 512;
        if (kind < '1' || kind > '6') { /* data follows (an extension header's too) */
            unsigned long long size = (unsigned long long)rec[2 + 6];
            if (size > len - pos)
                break;
            pos += (size_t)((size + 511) & ~511ULL);
        }
    }
    return n;
}
