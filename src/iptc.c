/*
 * iptc.c - our nat chains installed with libiptc (see iptc.h): the
 * transactions of iptc_apply and iptc_cleanup, the xtables lock, the
 * filter table's part, and the start-up checks.
 *
 * libiptc keeps the whole table in memory and replaces it in one
 * setsockopt(IPT_SO_SET_REPLACE) at commit: that is our transaction.
 * The rest of the module, behind the private iptc_int.h: iptc_entry.c
 * (x_tables entries, the family table), iptc_chain.c (bringing one chain
 * to the plan), iptc_jump.c (the jumps from the built-in chains to ours).
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iptc.h"
#include "iptc_int.h"
#include "log.h"
#include "util.h"

#define NAT_TABLE		"nat"
#define FILTER_TABLE		"filter"
#define LOCK_PATH		"/run/xtables.lock"
#define COMMIT_TRIES		4

/* The built-in chains that jump to ours: nat (hooks), filter (fw_hooks). */
static const struct hook hooks[] = {
	{ "PREROUTING", RULES_PORTALS_CONTAINER, RULES_NODEPORT_CONTAINER },
	{ "OUTPUT", RULES_PORTALS_HOST, RULES_NODEPORT_HOST },
};

static const char *const fw_hooks[] = { "INPUT", "FORWARD", "OUTPUT" };

/* --- the transaction -------------------------------------------------- */

static void
init_error(const struct family_ops *ops, int saved, char *err, size_t len)
{
	if (saved == EPERM || saved == EACCES)
		snprintf(err, len, "%s nat table: permission denied: need "
		    "CAP_NET_ADMIN and CAP_NET_RAW (run as root)", ops->name);
	else if (saved == ENOPROTOOPT || saved == ENOENT)
		snprintf(err, len, "%s nat table: the kernel has no legacy "
		    "x_tables nat table%s: load it (modprobe %s) or run with "
		    "--iptables none", ops->name, access(ops->proc_names,
		    R_OK) == -1 ? " (ip_tables not loaded)" : "", ops->modules);
	else
		snprintf(err, len, "%s nat table: %s", ops->name,
		    ops->strerror(saved));
}

/*
 * The end of a transaction, which frees the handle.  commit 1: commit the
 * changes; -1: nothing to commit; 0: the step `what` failed, errno says
 * why.  Returns 0, 1 when the commit lost a race with another writer
 * (EAGAIN: start over), or -1 with "IPv4 nat table: PREFIXwhat: reason".
 */
static int
finish(const struct family_ops *ops, struct xtc_handle *h, int commit,
    const char *prefix, const char *what, char *err, size_t len)
{
	int saved;

	if (commit == 1 && !ops->commit(h)) {
		if (errno == EAGAIN) {
			ops->free(h);
			return 1;
		}
		what = "commit";
		commit = 0;
	}
	if (commit != 0) {
		ops->free(h);
		return 0;
	}
	saved = errno;
	snprintf(err, len, "%s nat table: %s%s: %s", ops->name, prefix, what,
	    ops->strerror(saved));
	ops->free(h);
	return -1;
}

/*
 * The rules of `chain` and the family: [*from, *end) of rs (sorted:
 * they are one run).
 */
static void
chain_run(const struct family_ops *ops, const struct rule_set *rs, int chain,
    size_t *from, size_t *end)
{
	size_t i = 0, e;

	while (i < rs->rs_n && (rs->rs_rules[i].r_family != ops->af ||
	    (int)rs->rs_rules[i].r_chain != chain))
		i++;
	for (e = i; e < rs->rs_n && rs->rs_rules[e].r_family == ops->af &&
	    (int)rs->rs_rules[e].r_chain == chain; e++)
		;
	*from = i;
	*end = e;
}

static int has_table(const struct family_ops *, const char *);

/*
 * The filter table's part, one attempt: KUBE-UPROXY-FIREWALL and its
 * jumps while there is a rule for it, nothing of ours at all when there
 * is none (most clusters use no loadBalancerSourceRanges; we leave their
 * filter table alone).  0 done, 1 lost a race, -1 error.
 */
static int
apply_filter_once(const struct family_ops *ops, const struct rule_set *rs,
    char *err, size_t len)
{
	const char *fc = rules_chain_name(RULES_FIREWALL), *what = "";
	struct xtc_handle *h;
	size_t i, from, end;
	int n, changed = 0;

	chain_run(ops, rs, RULES_FIREWALL, &from, &end);
	if (from == end && !has_table(ops, FILTER_TABLE))
		return 0;
	if ((h = ops->init(FILTER_TABLE)) == NULL) {
		init_error(ops, errno, err, len);
		return -1;
	}
	if (from == end) {
		for (i = 0; i < nitems(fw_hooks); i++) {
			what = fw_hooks[i];
			if ((n = iptc_delete_jumps(ops, h, what)) == -1)
				goto fail;
			changed += n;
		}
		what = fc;
		if (ops->is_chain(fc, h)) {
			if (!ops->flush_entries(fc, h) ||
			    !ops->delete_chain(fc, h))
				goto fail;
			changed = 1;
		}
		return finish(ops, h, changed ? 1 : -1, "filter: ", NULL, err,
		    len);
	}
	what = fc;
	if (!ops->is_chain(fc, h)) {
		if (!ops->create_chain(fc, h))
			goto fail;
		changed = 1;
	}
	for (i = 0; i < nitems(fw_hooks); i++) {
		what = fw_hooks[i];
		if ((n = iptc_ensure_fw_jump(ops, h, what)) == -1)
			goto fail;
		changed |= n;
	}
	what = fc;
	if ((n = iptc_sync_chain(ops, h, fc, rs->rs_rules + from,
	    end - from)) == -1)
		goto fail;
	changed |= n;
	return finish(ops, h, changed ? 1 : -1, "filter: ", NULL, err, len);
 fail:
	return finish(ops, h, 0, "filter: ", what, err, len);
}

/* One attempt: 0 done, 1 lost a race (EAGAIN), -1 error. */
static int
apply_once(const struct family_ops *ops, const struct rule_set *rs,
    char *err, size_t len)
{
	struct xtc_handle *h;
	const char *what = "";
	size_t i, end;
	int c, n, changed = 0;

	if ((h = ops->init(NAT_TABLE)) == NULL) {
		init_error(ops, errno, err, len);
		return -1;
	}
	for (c = 0; c < RULES_NAT_NCHAINS; c++) {
		what = rules_chain_name(c);
		if (ops->is_chain(what, h))
			continue;
		if (!ops->create_chain(what, h))
			goto fail;
		changed = 1;
	}
	for (i = 0; i < nitems(hooks); i++) {
		what = hooks[i].builtin;
		if ((n = iptc_ensure_jumps(ops, h, &hooks[i], rs)) == -1)
			goto fail;
		changed |= n;
	}
	for (c = 0; c < RULES_NAT_NCHAINS; c++) {
		chain_run(ops, rs, c, &i, &end);
		what = rules_chain_name(c);
		if ((n = iptc_sync_chain(ops, h, what, rs->rs_rules + i,
		    end - i)) == -1)
			goto fail;
		changed |= n;
	}
	/*
	 * Nothing to change, the usual periodic resync: no commit.  Replacing
	 * a table of tens of thousands of rules costs the kernel tens of ms.
	 */
	return finish(ops, h, changed ? 1 : -1, "", NULL, err, len);
 fail:
	return finish(ops, h, 0, "", what, err, len);
}

/* The xtables lock, as iptables takes it.  Returns an fd, BUSY or -1. */
static int
lock_take(char *err, size_t len)
{
	const char *path = getenv("XTABLES_LOCKFILE");
	int fd;

	if (path == NULL || *path == '\0')
		path = LOCK_PATH;
	if ((fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, len, "xtables lock %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int busy = errno == EWOULDBLOCK;

		snprintf(err, len, "xtables lock %s: %s", path,
		    busy ? "lock busy" : strerror(errno));
		close(fd);
		return busy ? IPTC_LOCK_BUSY : -1;
	}
	return fd;
}

int
iptc_apply(int family, const struct rule_set *rs, char *err, size_t len)
{
	const struct family_ops *ops = iptc_ops_for(family);
	int fd, rv = 1, try;

	if (ops == NULL) {
		snprintf(err, len, "address family %d: not IPv4 or IPv6", family);
		return -1;
	}
	if ((fd = lock_take(err, len)) < 0)
		return fd;
	/* Someone not honouring the lock committed in between: start over. */
	for (try = 0; try < COMMIT_TRIES && rv == 1; try++)
		rv = apply_once(ops, rs, err, len);
	/*
	 * Then the filter table's DROP rules: a second transaction (x_tables
	 * replaces one table at a time).  In between, a source a new range
	 * leaves out is not redirected but not dropped yet either.
	 */
	if (rv == 0)
		for (try = 0, rv = 1; try < COMMIT_TRIES && rv == 1; try++)
			rv = apply_filter_once(ops, rs, err, len);
	close(fd);
	if (rv == 1) {
		snprintf(err, len, "%s nat table: commit kept failing "
		    "(EAGAIN, %d tries): another program is changing it",
		    ops->name, COMMIT_TRIES);
		return -1;
	}
	return rv;
}

/* Does this netns hold a legacy table `name` of the family?  (Read-only.) */
static int
has_table(const struct family_ops *ops, const char *name)
{
	char line[64];
	FILE *f;
	int found = 0;

	if ((f = fopen(ops->proc_names, "re")) == NULL)
		return 0;		/* ip_tables not even loaded */
	while (fgets(line, sizeof(line), f) != NULL)
		if (strcspn(line, "\n") == strlen(name) &&
		    strncmp(line, name, strlen(name)) == 0)
			found = 1;
	fclose(f);
	return found;
}

/* One attempt: 0 done, 1 lost a race (EAGAIN), -1 error. */
static int
cleanup_once(const struct family_ops *ops, char *err, size_t len)
{
	struct xtc_handle *h;
	const char *what = "";
	size_t i;
	int c, n, changed = 0;

	if ((h = ops->init(NAT_TABLE)) == NULL) {
		init_error(ops, errno, err, len);
		return -1;
	}
	for (i = 0; i < nitems(hooks); i++) {
		what = hooks[i].builtin;
		if ((n = iptc_delete_jumps(ops, h, what)) == -1)
			goto fail;
		changed += n;
	}
	for (c = 0; c < RULES_NAT_NCHAINS; c++) {
		what = rules_chain_name(c);
		if (!ops->is_chain(what, h))
			continue;
		if (!ops->flush_entries(what, h) || !ops->delete_chain(what, h))
			goto fail;
		changed++;
	}
	/* Nothing of ours: no need to replace the table. */
	return finish(ops, h, changed ? 1 : -1, "cleanup: ", NULL, err, len);
 fail:
	return finish(ops, h, 0, "cleanup: ", what, err, len);
}

int
iptc_cleanup(int family, char *err, size_t len)
{
	const struct family_ops *ops = iptc_ops_for(family);
	int fd, rv = 1, try;

	if (ops == NULL) {
		snprintf(err, len, "address family %d: not IPv4 or IPv6", family);
		return -1;
	}
	/*
	 * No nat table in this netns: nothing of ours can be there, and
	 * opening one would make the kernel create it.
	 */
	if (!has_table(ops, NAT_TABLE) && !has_table(ops, FILTER_TABLE))
		return 0;
	if ((fd = lock_take(err, len)) < 0)
		return fd;
	for (try = 0; has_table(ops, NAT_TABLE) && try < COMMIT_TRIES &&
	    rv == 1; try++)
		rv = cleanup_once(ops, err, len);
	if (rv == 1 && !has_table(ops, NAT_TABLE))
		rv = 0;
	/* An empty plan takes our chain and jumps out of the filter table. */
	if (rv == 0) {
		struct rule_set none;

		memset(&none, 0, sizeof(none));
		for (try = 0, rv = 1; try < COMMIT_TRIES && rv == 1; try++)
			rv = apply_filter_once(ops, &none, err, len);
	}
	close(fd);
	if (rv == 1) {
		snprintf(err, len, "%s nat table: cleanup commit kept failing "
		    "(EAGAIN, %d tries)", ops->name, COMMIT_TRIES);
		return -1;
	}
	return rv;
}

/*
 * Is the `iptables` an admin would type the nf_tables variant?  Then the
 * rules it shows are not ours (xtables-nft-multi vs xtables-legacy-multi).
 */
static void
warn_if_nft(void)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX], cand[PATH_MAX + 16], real[PATH_MAX];
	const char *p, *base;
	size_t n;

	if (path == NULL || *path == '\0')
		path = "/usr/sbin:/sbin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p += n + (p[n] == ':')) {
		n = strcspn(p, ":");
		if (n == 0 || n >= sizeof(dir))
			continue;
		memcpy(dir, p, n);
		dir[n] = '\0';
		snprintf(cand, sizeof(cand), "%s/iptables", dir);
		if (access(cand, X_OK) == -1 || realpath(cand, real) == NULL)
			continue;
		base = strrchr(real, '/');
		base = base != NULL ? base + 1 : real;
		if (strstr(base, "nft") != NULL)
			log_warnx("%s is the nf_tables variant (%s): our rules "
			    "live in the legacy tables: iptables-legacy -t nat -S "
			    "shows them", cand, base);
		return;
	}
}

int
iptc_preflight(char *err, size_t len)
{
	struct xtc_handle *h;
	char warn[256];

	if ((h = iptc_init(NAT_TABLE)) == NULL) {
		init_error(iptc_ops_for(AF_INET), errno, err, len);
		return -1;
	}
	iptc_free(h);
	if ((h = ip6tc_init(NAT_TABLE)) == NULL) {
		init_error(iptc_ops_for(AF_INET6), errno, warn, sizeof(warn));
		log_warnx("%s; IPv6 services will get no rules", warn);
	} else
		ip6tc_free(h);
	warn_if_nft();
	return 0;
}
