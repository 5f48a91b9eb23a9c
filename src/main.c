/*
 * main.c - kube-uproxy: wire the modules together and run the loop.
 *
 *   source_file ─┐
 *   source_api ──┴► store ──► proxier ──► lb + tcp_proxy / udp_proxy
 *                                  ├────► portals ──► rules + iptc (nat)
 *                                  └────► admin (HTTP)
 *
 * Everything runs on one libevent loop; signals arrive as events too.
 */
#include <sys/resource.h>

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "admin.h"
#include "config.h"
#include "iptc.h"
#include "kubeconfig.h"
#include "log.h"
#include "notify.h"
#include "nft.h"
#include "portals.h"
#include "proxier.h"
#include "relay_pool.h"
#include "show.h"
#include "source_api.h"
#include "source_file.h"
#include "store.h"
#include "tcp_proxy.h"
#include "util.h"

struct daemon {
	int			 argc;		/* the flags, for a reload */
	char			**argv;
	struct event_base	*base;
	struct config		 cfg;
	struct store		*store;
	struct proxier		*proxier;
	struct admin		*admin;
	struct source_file	*files;		/* --manifests, or */
	struct kube_client_config kube;		/* the API server */
	struct source_api	*api;
	int			 synced;	/* the source's first picture is in */
};

/*
 * SIGHUP with --config: read the file (and the flags on top of it) into a
 * new config, as at start-up.  A bad file changes nothing.  Of a good one,
 * the fields every module reads afresh are applied at once (--v and
 * --iptables-min-sync-period); any other difference is reported as needing
 * a restart, since sockets, timers and rules were built from the old value.
 */
static void
reload_config(struct daemon *d)
{
	struct config next;
	char err[512], *was, *now;

	if (d->cfg.config_file == NULL)
		return;
	config_defaults(&next);
	if (config_parse_args(&next, d->argc, d->argv, err, sizeof(err)) != 0) {
		log_warnx("%s; keeping the running configuration", err);
		config_free(&next);
		return;
	}
	d->cfg.verbosity = log_verbosity = next.verbosity;
	d->cfg.min_sync_period_ms = next.min_sync_period_ms;
	was = config_to_json(&d->cfg);
	now = config_to_json(&next);
	if (strcmp(was, now) != 0)
		log_warnx("--config %s: changes other than logging.verbosity and "
		    "iptables.minSyncPeriod take effect at the next start",
		    d->cfg.config_file);
	else
		log_info("--config %s: reloaded", d->cfg.config_file);
	free(was);
	free(now);
	config_free(&next);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		notify_reloading();
		reload_config(d);
		if (d->files != NULL)
			source_file_reload(d->files);
		if (d->synced)		/* else READY=1 comes with the sync */
			notify_ready();
		break;
	default:
		log_info("%s: shutting down", strsignal(sig));
		notify_stopping();
		event_base_loopbreak(d->base);
		break;
	}
}

/*
 * Every proxied connection costs two descriptors: allow as many as the
 * hard limit permits (the Go original forced 64000, lowering a higher
 * hard limit).
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

/*
 * The source has delivered a complete first picture (all manifests read,
 * or both API lists done): rules and /healthz may go live.
 */
static void
synced(void *arg)
{
	struct daemon *d = arg;

	d->synced = 1;
	proxier_mark_synced(d->proxier);
	log_info("kube-uproxy %s running: %zu service ports", PACKAGE_VERSION,
	    proxier_count(d->proxier));
	notify_status("serving %zu service ports", proxier_count(d->proxier));
	notify_ready();
}

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct event *sigev[nitems(sigs)] = { NULL };
	struct daemon d;
	char err[512], err2[512];
	size_t i;
	int rc;

	if (argc > 1 && strcmp(argv[1], "show") == 0)
		return show_main(argc - 1, argv + 1);
	/*
	 * No fast bins: glibc keeps small freed chunks in them without
	 * merging, and merges them all at the next request that the top of
	 * the heap cannot serve.  A manifest read or an API list frees its
	 * parse tree at once (800,000 nodes for 10,000 Services), so that
	 * merge stalled the next step: 7 % of the CPU of such a cold start.
	 * Freed chunks now merge as they are freed; the per-size thread
	 * cache still serves the hot small allocations.
	 */
	mallopt(M_MXFAST, 0);
	memset(&d, 0, sizeof(d));
	d.argc = argc - 1;
	d.argv = argv + 1;
	config_defaults(&d.cfg);
	rc = config_parse_args(&d.cfg, argc - 1, argv + 1, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "kube-uproxy: %s\n", err);
		config_free(&d.cfg);
		return rc < 0 ? 1 : 0;
	}
	log_init(d.cfg.verbosity);
	signal(SIGPIPE, SIG_IGN);

	/* No legacy x_tables (or no use of them): nftables, said once. */
	if (d.cfg.portals == PORTALS_IPTABLES &&
	    iptc_preflight(err, sizeof(err)) == -1) {
		if (nft_preflight(err2, sizeof(err2)) == -1) {
			log_errorx("%s", err);
			config_free(&d.cfg);
			return 1;
		}
		log_warnx("%s; using --portals nftables instead", err);
		d.cfg.portals = PORTALS_NFTABLES;
	} else if (d.cfg.portals == PORTALS_NFTABLES &&
	    nft_preflight(err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		config_free(&d.cfg);
		return 1;
	}
	if (d.cfg.cleanup) {
		rc = d.cfg.portals != PORTALS_NONE ? portals_cleanup_all() : 0;
		log_info("cleanup %s", rc == 0 ? "done" : "failed");
		config_free(&d.cfg);
		return rc == 0 ? 0 : 1;
	}
	/* Without --manifests, find the API server before touching anything. */
	if (d.cfg.manifests == NULL && kubeconfig_resolve(d.cfg.kubeconfig,
	    d.cfg.master, &d.kube, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		kubeconfig_free(&d.kube);
		config_free(&d.cfg);
		return 1;
	}

	raise_nofile();
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	tcp_relay_mode_set(d.cfg.relay_splice ? RELAY_SPLICE : RELAY_COPY);
	/* After raise_nofile: the connection bound derives from the limit. */
	tcp_proxy_configure(d.cfg.tcp_keepalive_ms, d.cfg.tcp_fin_timeout_ms,
	    (size_t)d.cfg.relay_memory);
	if ((d.proxier = proxier_new(d.base, &d.cfg)) == NULL)
		fatalx("cannot set up the iptables rules");
	d.store = store_new(proxier_apply, d.proxier);
	/* Endpoints on this node are local; our Node object gives the zone. */
	store_set_node_name(d.store, d.cfg.hostname);
	proxier_set_store(d.proxier, d.store);
	/*
	 * From here on our chains exist: a failure goes through the teardown,
	 * which removes them, instead of exiting on the spot.
	 */
	rc = -1;
	if ((d.admin = admin_new(d.base, &d.cfg, d.proxier)) == NULL)
		goto teardown;		/* logged */
	for (i = 0; i < nitems(sigs); i++) {
		sigev[i] = evsignal_new(d.base, sigs[i], signal_cb, &d);
		if (sigev[i] == NULL || evsignal_add(sigev[i], NULL) == -1) {
			log_errorx("cannot handle signal %d", sigs[i]);
			goto teardown;
		}
	}
	if (d.cfg.manifests != NULL) {
		d.files = source_file_new(d.base, d.cfg.manifests, d.store,
		    d.cfg.node_port_lo, d.cfg.node_port_hi);
		if (d.files == NULL) {
			log_error("--manifests %s", d.cfg.manifests);
			goto teardown;
		}
		synced(&d);
	} else {
		d.api = source_api_new(d.base, &d.kube, d.store, synced, &d,
		    err, sizeof(err));
		if (d.api == NULL) {
			log_errorx("%s", err);
			goto teardown;
		}
		admin_add_metrics(d.admin, source_api_metrics, d.api);
		notify_status("waiting for the first lists from %s", d.kube.server);
	}

	event_base_dispatch(d.base);
	rc = 0;

teardown:	/* mirrors construction */
	source_file_free(d.files);
	source_api_free(d.api);
	for (i = 0; i < nitems(sigs); i++)
		if (sigev[i] != NULL)
			event_free(sigev[i]);
	admin_free(d.admin);
	if (proxier_free(d.proxier, 1) != 0)
		rc = -1;
	store_free(d.store);
	tcp_relays_close_all();
	relay_pool_flush();
	event_base_free(d.base);
	kubeconfig_free(&d.kube);
	config_free(&d.cfg);
	if (rc == 0)
		log_info("stopped");
	return rc == 0 ? 0 : 1;
}
