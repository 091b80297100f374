/* The one logger of the host programs: "PROGRAM: message" lines on stderr, with levels. Errors always show;
 * warnings unless LSL_LOG=error; info and debug only when LSL_LOG asks for them (the service's log file
 * gets info: lsl starts lsl-vmm with --log info, not through the environment, which the service's host
 * commands inherit). The level that decides about a failure logs it once. */
#ifndef LSL_UTIL_LOG_H
#define LSL_UTIL_LOG_H

enum log_level {
    LOG_ERROR,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
};

/* The prefix ("lsl", "lsl-vmm") and the level from LSL_LOG (error, warn, info, debug; default warn). */
void log_init(const char *program);
void log_set_level(enum log_level level);
/* The level a name gives (error, warn, info, debug; any case), or -1. */
int log_level_parse(const char *name);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
/* Logs "<message>: <strerror(err)>" as an error (err positive) and returns -err. */
int log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
