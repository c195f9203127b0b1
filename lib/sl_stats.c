/* sl_stats.c - the report JSON shared by the appliance and the replay tool. */
#include <errno.h>
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
	fprintf(f, "  \"tx_dropped\": %llu,\n", (unsigned long long)s->tx_dropped);
	fprintf(f, "  \"tenants\": [");
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		const struct sl_tenant_stats *t = &s->t[i];

		fprintf(f, "%s\n    {\"name\": \"%s\", \"profile\": \"%s\"", i ? "," : "", t->name,
			t->profile);
#define SL_X_JSON(n) fprintf(f, ", \"" #n "\": %llu", (unsigned long long)t->c.n);
		SL_TENANT_COUNTERS(SL_X_JSON)
#undef SL_X_JSON
		fprintf(f, ", \"keys\": %llu, \"flows\": %llu, \"queue_hwm\": %llu}",
			(unsigned long long)t->keys, (unsigned long long)t->flows,
			(unsigned long long)t->queue_hwm);
	}
	fprintf(f, "%s],\n", s->nb_tenants ? "\n  " : "");
	pb(f, "unmatched", &s->unmatched, ",");
	pb(f, "malformed", &s->malformed, "");
	fprintf(f, "}\n");
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

static double mbit(uint64_t bytes, double s)
{
	return s > 0 ? bytes * 8.0 / s / 1e6 : 0.0;
}

void sl_stats_print(const struct sl_stats *s, double el, FILE *f)
{
	fprintf(f, "%-20s %12s %14s %12s %10s %12s %10s %8s\n", "tenant", "packets", "bytes",
		"conform_pkt", "conf_Mb/s", "exceed_pkt", "exc_Mb/s", "keys");
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		const struct sl_tenant_stats *t = &s->t[i];

		fprintf(f, "%-20s %12llu %14llu %12llu %10.3f %12llu %10.3f %8llu\n", t->name,
			(unsigned long long)t->c.packets, (unsigned long long)t->c.bytes,
			(unsigned long long)t->c.conform_packets, mbit(t->c.conform_bytes, el),
			(unsigned long long)t->c.exceed_packets, mbit(t->c.exceed_bytes, el),
			(unsigned long long)t->keys);
	}
	fprintf(f, "%-20s %12llu %14llu\n", "(unmatched)", (unsigned long long)s->unmatched.packets,
		(unsigned long long)s->unmatched.bytes);
	fprintf(f, "%-20s %12llu %14llu\n", "(malformed)", (unsigned long long)s->malformed.packets,
		(unsigned long long)s->malformed.bytes);
	fprintf(f, "%-20s %12llu %14llu  dropped %llu packets, elapsed %.3f s\n", "(total)",
		(unsigned long long)s->total.packets, (unsigned long long)s->total.bytes,
		(unsigned long long)s->dropped.packets, el);
}
