/* sl_html.h - sluice-replay --html: one self-contained HTML page (inline CSS and SVG, no
 * script, nothing fetched) saying what a policy does to a capture: the policy, and per tenant
 * its offered, conforming, dropped, marked and shaped rates over the capture's time, its live
 * keys and, for dedicated tenants, the keys that exceeded most. The replay feeds it; it never
 * changes a decision. Single-threaded, like the replay. */
#ifndef SL_HTML_H
#define SL_HTML_H

#include <stdint.h>
#include "sl_config.h"
#include "sl_engine.h"

struct sl_html;

/* What the page says about the run (pointers kept until sl_html_free). */
struct sl_html_meta {
	const char *config;		/* the policy file's path */
	const char *const *in;		/* the captures, port order */
	unsigned nb_in;
	uint64_t max_keys;		/* --max-keys (0: the engine's default) */
};

/*
 * Start recording a run of engine e under cfg (both must outlive the recorder; e's policy
 * must be cfg, tenants in cfg's order). Memory is bounded: the samples take at most about
 * 64 MB (fewer points with many tenants), the per-key map 200,000 keys (16 MB, allocated at
 * the first exceeding frame of a dedicated tenant). Returns NULL on ENOMEM.
 */
struct sl_html *sl_html_create(const struct sl_config *cfg, struct sl_engine *e,
			       const struct sl_html_meta *meta);
void sl_html_free(struct sl_html *h);

/*
 * Before the engine polices a group of frames at capture time now (ns): samples the
 * engine's counters when a sampling boundary has passed since the last group (at most one
 * read per call). 0 or -ENOMEM.
 */
int sl_html_tick(struct sl_html *h, uint64_t now);

/* After sl_process_ex of those frames: per-tenant drops and marks, per-key exceeding bytes. */
void sl_html_frames(struct sl_html *h, uint8_t *const data[], const uint32_t caplen[],
		    const uint32_t len[], unsigned n, uint64_t now, const uint8_t verdict[],
		    const struct sl_decision dec[]);

/*
 * The capture ended (last_ns: its latest frame time; held_max: most frames the replay held
 * for shaping at once): take the last sample and write the page to path. 0 or -errno (a
 * message on stderr).
 */
int sl_html_write(struct sl_html *h, uint64_t last_ns, uint64_t held_max, const char *path);

#endif
