/* lslpath: host <-> guest paths through the host shares a distribution mounts (like WSL's wslpath). */
#ifndef LSL_DISTRO_LSLPATH_H
#define LSL_DISTRO_LSLPATH_H

#define LSL_LSLPATH_TOOL "lslpath"

/* argv[0] "lslpath": translates one path; 0, 1 on failure (one line on stderr), 2 for bad usage. */
int lsl_lslpath_main(int argc, char **argv);

#endif
