/* sl_stats.c - the report JSON shared by the appliance and the replay tool. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <stdlib.h>
#include "sl_stats.h"

void sl_stats_free(struct sl_stats *s)
{
	free(s->t);
	s->t = NULL;
	s->nb_tenants = 0;
}

/* Names are validated to [A-Za-z0-9_.-]: no escaping is needed. */
static void pb(FILE *f, const char *name, const struct sl_pktbytes *p, const char *sep)
{
	fprintf(f, "  \"%s\": {\"packets\": %llu, \"bytes\": %llu}%s\n", name,
		(unsigned long long)p->packets, (unsigned long long)p->bytes, sep);
}

int sl_stats_write_json(const struct sl_stats *s, double elapsed_s, FILE *f)
{
	fprintf(f, "{\n  \"elapsed_s\": %.9f,\n  \"packets\": %llu,\n  \"bytes\": %llu,\n",
		elapsed_s, (unsigned long long)s->total.packets,
		(unsigned long long)s->total.bytes);
	fprintf(f, "  \"dropped\": {\"packets\": %llu, \"bytes\": %llu},\n",
		(unsigned long long)s->dropped.packets, (unsigned long long)s->dropped.bytes);
	fprintf(f, "  \"generation\": %llu,\n  \"reload_failures\": %llu,\n",
		(unsigned long long)s->generation, (unsigned long long)s->reload_failures);
	fprintf(f, "  \"tx_dropped\": %llu,\n  \"shape_held\": %llu,\n",
		(unsigned long long)s->tx_dropped, (unsigned long long)s->shape_held);
	fprintf(f, "  \"tenants\": [");
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		const struct sl_tenant_stats *t = &s->t[i];

		fprintf(f, "%s\n    {\"name\": \"%s\", \"profile\": \"%s\"", i ? "," : "", t->name,
			t->profile);
#define SL_X_JSON(n) fprintf(f, ", \"" #n "\": %llu", (unsigned long long)t->c.n);
		SL_TENANT_COUNTERS(SL_X_JSON)
#undef SL_X_JSON
		fprintf(f, ", \"keys\": %llu, \"flows\": %llu, \"queue_hwm\": %llu, "
			"\"shape_delay_max_us\": %llu}",
			(unsigned long long)t->keys, (unsigned long long)t->flows,
			(unsigned long long)t->queue_hwm, (unsigned long long)t->shape_delay_max_us);
	}
	fprintf(f, "%s],\n", s->nb_tenants ? "\n  " : "");
	pb(f, "unmatched", &s->unmatched, ",");
	pb(f, "malformed", &s->malformed, "");
	fprintf(f, "}\n");
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

static double per_s(double n, double s)
{
	return s > 0 ? n / s : 0.0;
}

void sl_stats_print_head(const struct sl_stats *s, double el, int w, FILE *f)
{
	fprintf(f, "sluice: %" PRIu64 " frames, %" PRIu64 " bytes in %.3f s (first forwarded "
		"frame to stop); %" PRIu64 " dropped by policy, %" PRIu64 " tx failures; policy "
		"generation %" PRIu64 ", reload failures %" PRIu64 "\n", s->total.packets,
		s->total.bytes, el, s->dropped.packets, s->tx_dropped, s->generation,
		s->reload_failures);
	fprintf(f, "%-*s %14s %16s %14s %16s %14s %16s %9s %14s %12s\n", w, "tenant", "packets",
		"bytes", "conform pkts", "conform bytes", "exceed pkts", "exceed bytes", "keys",
		"conform Mbit/s", "conform pps");
}

void sl_stats_print_row(const char *name, const struct sl_counts *c, uint64_t keys, double el,
			int w, FILE *f)
{
	fprintf(f, "%-*s %14" PRIu64 " %16" PRIu64 " %14" PRIu64 " %16" PRIu64 " %14" PRIu64
		" %16" PRIu64 " %9" PRIu64 " %14.3f %12.0f\n", w, name, c->packets, c->bytes,
		c->conform_packets, c->conform_bytes, c->exceed_packets, c->exceed_bytes, keys,
		per_s((double)c->conform_bytes * 8 / 1e6, el), per_s((double)c->conform_packets, el));
}

void sl_stats_print_tail(const struct sl_stats *s, int w, FILE *f)
{
	fprintf(f, "%-*s %14" PRIu64 " %16" PRIu64 "\n", w, "(unmatched)", s->unmatched.packets,
		s->unmatched.bytes);
	fprintf(f, "%-*s %14" PRIu64 " %16" PRIu64 "\n", w, "(malformed)", s->malformed.packets,
		s->malformed.bytes);
}

void sl_stats_print(const struct sl_stats *s, double el, FILE *f)
{
	int w = 12;

	for (unsigned i = 0; i < s->nb_tenants; i++)
		if ((int)strlen(s->t[i].name) > w)
			w = (int)strlen(s->t[i].name);
	sl_stats_print_head(s, el, w, f);
	for (unsigned i = 0; i < s->nb_tenants; i++)
		sl_stats_print_row(s->t[i].name, &s->t[i].c, s->t[i].keys, el, w, f);
	sl_stats_print_tail(s, w, f);
	fflush(f);
}
