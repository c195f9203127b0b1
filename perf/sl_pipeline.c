/* sl_pipeline.c - the appliance's pipelined data path (app/sl_fwd.c: stage burst k, probe k-1,
 * finish k-2, bursts of 32) over a capture held in memory, without DPDK: for instruction
 * counts under valgrind --tool=callgrind, and cycles per packet of the engine alone.
 *
 * usage: sl-pipeline POLICY.yaml CAPTURE.pcap BURSTS
 * Frames are laid out one per 128 bytes in capture order and replayed cyclically; one pass over
 * the capture runs first (inserting every key) and is not counted; then BURSTS bursts of 32 are
 * timed with the TSC. `now` advances 800 ticks per burst of a 2.6 GHz clock. Prints frames,
 * frames forwarded and TSC cycles per packet of the timed part.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>
#include <pcap/pcap.h>
#include "sl_config.h"
#include "sl_diag.h"
#include "sl_engine.h"

#define BURST 32
#define STRIDE 128
#define MAX_FRAMES (1u << 22)

struct capture {
	uint8_t *mem;
	uint32_t *len;
	size_t n;
};

/* Read the capture with libpcap (as sluice-replay does), one frame per STRIDE bytes; reports
 * its own errors. */
static int load_pcap(const char *path, struct capture *c)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *in = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *pkt;

	if (!in) {
		fprintf(stderr, "sl-pipeline: %s\n", err);
		return -EINVAL;
	}
	c->mem = aligned_alloc(64, (size_t)STRIDE * MAX_FRAMES);
	c->len = malloc(sizeof(*c->len) * MAX_FRAMES);
	c->n = 0;
	if (!c->mem || !c->len) {
		fprintf(stderr, "sl-pipeline: %s\n", strerror(ENOMEM));
		pcap_close(in);
		return -ENOMEM;
	}
	while (c->n < MAX_FRAMES && pcap_next_ex(in, &h, &pkt) == 1) {
		if (h->caplen > STRIDE) {
			fprintf(stderr, "sl-pipeline: %s: frame %zu has %u bytes, at most %u\n",
				path, c->n + 1, h->caplen, STRIDE);
			pcap_close(in);
			return -EINVAL;
		}
		memcpy(c->mem + c->n * STRIDE, pkt, h->caplen);
		c->len[c->n++] = h->caplen;
	}
	pcap_close(in);
	if (!c->n)
		fprintf(stderr, "sl-pipeline: %s: no frames\n", path);
	return c->n ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static uint8_t *data[SL_SLOTS][BURST];
	static uint32_t caplen[SL_SLOTS][BURST], len[SL_SLOTS][BURST];
	struct sl_engine_opts o = { .hz = 2600000000ull, .nb_lcores = 1 };
	uint8_t verdict[BURST];
	struct sl_config *cfg;
	struct sl_engine *e;
	struct sl_lcore *lc;
	struct sl_diag d;
	struct capture cap = { NULL, NULL, 0 };
	unsigned head = 0, nin = 0;
	uint64_t fwd = 0, now = 1000, t0 = 0, t1;
	long bursts, warm;
	size_t pos = 0;

	if (argc != 4 || (bursts = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: sl-pipeline POLICY.yaml CAPTURE.pcap BURSTS\n");
		return 1;
	}
	if (load_pcap(argv[2], &cap))
		return 1;
	memset(&d, 0, sizeof(d));
	if (sl_config_load(argv[1], &cfg, &d) || sl_engine_create(cfg, &o, &e, &d)) {
		sl_diag_print(&d, stderr);
		return 1;
	}
	lc = sl_engine_lcore(e, 0);
	warm = (long)(cap.n / BURST) + 1;
	for (long k = 0; k < bursts + warm; k++) {
		unsigned slot = (head + nin) % SL_SLOTS;

		if (k == warm)
			t0 = __rdtsc();
		for (unsigned i = 0; i < BURST; i++) {
			data[slot][i] = cap.mem + pos * STRIDE;
			caplen[slot][i] = len[slot][i] = cap.len[pos];
			pos = pos + 1 == cap.n ? 0 : pos + 1;
		}
		sl_burst_stage(lc, slot, 0, data[slot], caplen[slot], BURST);
		if (nin++)
			sl_burst_probe(lc, (slot + SL_SLOTS - 1) % SL_SLOTS);
		if (nin == SL_SLOTS) {
			now += 800;
			fwd += sl_burst_finish(lc, head, data[head], caplen[head], len[head], now,
					       verdict, NULL);
			head = (head + 1) % SL_SLOTS;
			nin--;
		}
	}
	t1 = __rdtsc();
	printf("frames %zu, forwarded %llu of %llu, %.1f TSC cycles per packet\n", cap.n,
	       (unsigned long long)fwd, (unsigned long long)(bursts + warm - 2) * BURST,
	       (double)(t1 - t0) / (double)(bursts * BURST));
	sl_engine_free(e);
	sl_config_free(cfg);
	free(cap.mem);
	free(cap.len);
	return 0;
}
