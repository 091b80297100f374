/* What ps shows for a process of lsl-init's binary: the distributions' PID 1 is "init", as in WSL, rather
 * than the lsl-distro command line that started it (its sessions, forked from it, show the same). */
#ifndef LSL_INIT_PROCTITLE_H
#define LSL_INIT_PROCTITLE_H

/* Remembers where the arguments live; called by main() before anything else. */
void lsl_proctitle_init(int argc, char **argv);
/* Overwrites the arguments (/proc/PID/cmdline) with title, cut to their length, and sets the command name
 * (/proc/PID/comm). */
void lsl_proctitle_set(const char *title);

#endif
