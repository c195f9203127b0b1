/* sl_ctl.h - the control path of the appliance: policy reloads (SIGHUP, --watch, telemetry),
 * runtime profile edits, idle-key eviction, table-full notes, `sluice --check`. No data path. */
#ifndef SL_CTL_H
#define SL_CTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include "sl_engine.h"

#define SL_CTL_EVICT_MS 100		/* sl_engine_maintain this often */
/* Index buckets scanned per table per call: a table of 1M keys (512K buckets) is scanned in
 * 64 calls = 6.4 s, one of 64K keys in 0.4 s; one call touches at most 512 KiB of index. */
#define SL_CTL_EVICT_BUDGET 8192
#define SL_CTL_FULL_MS 1000		/* table-full notes at most this often */
#define SL_CTL_FULL_LINES 10		/* tenants named per note; the rest are summed */
#define SL_CTL_WATCH_MS 250		/* --watch: stat the file this often */

/* What identifies a version of the policy file for --watch. */
struct sl_ctl_fstat {
	bool ok;			/* stat succeeded */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/* A tenant's table_full count at the last note (sorted by name). */
struct sl_ctl_full {
	char name[SL_NAME_MAX];
	uint64_t n;
};

/*
 * Owned by the main lcore; the telemetry thread reaches it through sl_ctl_telemetry. `lock`
 * serializes every reload, profile edit and --watch state change (the engine serializes its
 * own control calls too; this one keeps parse + reload + log line of one request together).
 */
struct sl_ctl {
	pthread_mutex_t lock;
	struct sl_engine *e;
	uint64_t (*tx_dropped)(const void *arg);	/* frames lost at TX so far (any thread) */
	const void *tx_arg;
	const char *path;		/* the policy file given at start, reloaded as is */
	FILE *log;			/* reload lines and notes: stderr */
	uint64_t hz;			/* TSC */
	bool watch;
	struct sl_ctl_fstat seen;	/* the file as last loaded (or refused) */
	struct sl_ctl_fstat changed;	/* --watch: a new state, reloaded once it holds a poll */
	uint64_t next_watch, next_evict, next_full;	/* TSC */
	uint64_t evicted;		/* keys evicted since start */
	struct sl_ctl_full *full;	/* tenants with table_full > 0 at the last note */
	unsigned nb_full;
	/* metrics (relaxed atomics, any thread): reloads and edits applied, the last one's time */
	uint64_t reloads;
	uint64_t last_reload_ns;	/* parse + compile + publish + grace period */
};

/* The result of one reload or edit, for the log line and the telemetry answer. */
struct sl_ctl_result {
	int ret;			/* 0 applied, else -errno (refused, policy kept) */
	struct sl_reload_summary sum;	/* generation: running policy after the attempt */
	double parse_s;			/* sl_config_load (0 for a profile edit) */
	uint64_t failures;		/* reload_failures after the attempt */
	struct sl_diag d;		/* why it was refused (owned; sl_diag_free) */
};

/*
 * Main lcore, once the engine exists, before launch. tx_dropped(tx_arg) gives telemetry the
 * frames lost at TX (read from the telemetry thread). path: the policy file, reloaded as is.
 * Returns 0 or -errno.
 */
int sl_ctl_init(struct sl_ctl *c, struct sl_engine *e, uint64_t (*tx_dropped)(const void *),
		const void *tx_arg, const char *path, bool watch, uint64_t hz, uint64_t now);
/* Unregister from telemetry (waits for a running command), free. The engine is not freed. */
void sl_ctl_fini(struct sl_ctl *c);

/* Install the SIGHUP handler: it only sets a flag that sl_ctl_poll picks up. */
void sl_ctl_signals(void);

/*
 * Main lcore, every pass of its control loop (<= 20 ms apart): reload after SIGHUP or a
 * --watch change, evict idle keys every SL_CTL_EVICT_MS, note refused keys every second.
 */
void sl_ctl_poll(struct sl_ctl *c, uint64_t now);

/*
 * Reload the file given at start (trigger: a word for the log line). Any control thread.
 * The outcome is logged in one line (or the refusal and its messages) and returned in r.
 */
void sl_ctl_reload(struct sl_ctl *c, const char *trigger, struct sl_ctl_result *r);

/* Change a profile's rate and/or burst (NULL = unchanged) as a reload would. Logged. */
void sl_ctl_set_profile(struct sl_ctl *c, const char *profile, const char *rate,
			const char *burst, struct sl_ctl_result *r);

/* Register /sluice/... telemetry commands bound to c (no-op effect with --no-telemetry). */
int sl_ctl_telemetry(struct sl_ctl *c);
/* The counterpart of sl_ctl_telemetry, called by sl_ctl_fini. */
void sl_ctl_telemetry_detach(void);

/*
 * `sluice --check FILE`: validate and compile the policy (tables allocated as the appliance
 * would, max_keys as --max-keys, 0 = default) without EAL; print the compiled summary on
 * out, or the problems on err. Returns 0 (valid) or 1.
 */
int sl_ctl_check(const char *path, uint64_t max_keys, FILE *out, FILE *err);

/* Counters of every port (rx, tx, missed, errors), one line each, after the lcores stopped. */
void sl_ctl_port_totals(FILE *f);

#endif
