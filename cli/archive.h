/* Archives going into the VM: what compression a tar (or .wsl) file uses, told by its first bytes, since
 * GNU tar in the guest cannot guess it on a stream. */
#ifndef LSL_CLI_ARCHIVE_H
#define LSL_CLI_ARCHIVE_H

#include <stddef.h>
#include <sys/types.h>

/* The guest's name for the format (lsl-distro import/export): "tar", "gz", "xz", "zst" or "bz2". */
const char *lsl_archive_detect(const unsigned char *head, size_t len);
/* The format an export writes, from --format (tar, tar.gz, tgz, tar.xz, tar.zst, ...) or else from the
 * file name's ending; NULL for an unknown --format. */
const char *lsl_archive_format_for(const char *format, const char *file);

/* Opens FILE ("-": stdin) for streaming into the VM and detects its format. When the input cannot be
 * re-read (a pipe), a child process replays the bytes already read and then the rest through a new pipe;
 * *feeder is its PID (reap it with lsl_archive_close) or 0. Returns the fd to read from, or -errno; for
 * input that is no archive at all, -EMEDIUMTYPE with *format NULL. */
int lsl_archive_open(const char *file, const char **format, pid_t *feeder);
void lsl_archive_close(int fd, pid_t feeder);

#endif
