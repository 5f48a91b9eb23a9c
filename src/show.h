/*
 * show.h - `kube-uproxy show`: the running daemon's service ports.
 */
#ifndef SHOW_H
#define SHOW_H

/*
 * `kube-uproxy show [--json] [--metrics-address IP:PORT]` (argv[0] is
 * "show").  Fetches /debug/services from the daemon and prints it like
 * `ipvsadm -Ln`, or as JSON.  Returns the exit status: 0, 1 when the
 * daemon cannot be reached or answers nonsense, 2 for a usage error.
 */
int	show_main(int argc, char **argv);

#endif
