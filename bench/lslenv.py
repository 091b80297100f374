"""The scratch environment of a benchmark that runs lsl itself: its own HOME, runtime and state directories,
so the benchmark's VM and distributions never meet the user's, and no idle stop in the middle of a run."""
import os
import tempfile


def scratch(prefix):
    """A new directory under /tmp (short: the VMM's unix sockets live in it) and the environment to run lsl
    with; the caller removes the directory."""
    work = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(work, "rt"), XDG_STATE_HOME=os.path.join(work, "state"),
               HOME=os.path.join(work, "home"), LSL_VM_IDLE_TIMEOUT="-1")
    env.pop("LSL_ROOTFS", None)
    for d in ("rt", "home"):
        os.makedirs(os.path.join(work, d), mode=0o700)
    return work, env
