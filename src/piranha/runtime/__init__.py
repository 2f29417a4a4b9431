"""Process-level plumbing shared by the daemons and tools.

Run directory and socket paths, the JSON-lines control socket, sd_notify,
logging in the original daemons' style, daemonizing, and running external
commands without a shell.  It sits beside ``table``/``config`` at the
bottom of the layers for everything that does I/O (dataplane, health, ha,
lvsd, gui, cli may import it; config and table never do).
"""
