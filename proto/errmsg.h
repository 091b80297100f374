/* One line for a parser's caller to show: the command-line, config and share-list parsers of every side. */
#ifndef LSL_PROTO_ERRMSG_H
#define LSL_PROTO_ERRMSG_H

#include <stddef.h>

/* Formats the message into err (errlen bytes, always terminated) and returns -EINVAL, for
 * "return lsl_errmsg(err, errlen, ...)". */
int lsl_errmsg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
