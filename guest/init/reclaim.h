/* autoMemoryReclaim in the guest: page cache given back while the guest works and after it goes idle. */
#ifndef LSL_INIT_RECLAIM_H
#define LSL_INIT_RECLAIM_H

#include <sys/types.h>

enum lsl_reclaim {
    LSL_RECLAIM_POLICY_GRADUAL,   /* cold cache trimmed while busy, all of it after 30 s idle */
    LSL_RECLAIM_POLICY_DROPCACHE, /* all of it as soon as the CPU is idle (6 s) */
    LSL_RECLAIM_POLICY_DISABLED,
};

/* The lsl.reclaim= value (NULL: absent, gradual); -EINVAL for anything else. */
int lsl_reclaim_parse(const char *value, enum lsl_reclaim *out);

/* Turns proactive compaction off (every boot: kcompactd's wake-ups cost an idle VM; see reclaim.c). */
void lsl_compaction_quiet(void);

/* Forks the daemon (nothing for disabled). Returns its pid, 0, or -errno. */
pid_t lsl_reclaim_start(enum lsl_reclaim policy);

#endif
