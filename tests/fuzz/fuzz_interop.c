/* Fuzz target: the host's lsl-interop (cli/interop.c, lsl_interop_serve), the server of the guest's host
 * commands, fed arbitrary guest bytes: the agent's target (fuzz_agent.c) with the host's server in place of
 * the agent, its command started by the same stub (lsl_interop_spawn_fn), so that nothing runs on this
 * machine. Run records in a temporary runtime directory: distribution "fuzz" (what the corpus's EXECs name)
 * has interop on, "off" has it off; any other name, the system root's "" or a user is refused with ERROR.
 * Input: as fuzz_agent.c's. */
#define FUZZ_INTEROP 1
#include "fuzz_agent.c"
