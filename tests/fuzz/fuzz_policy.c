/* fuzz_policy.c - libFuzzer target: any bytes as a policy file, as `sluice --check` and a
 * reload take it. sl_config_parse; when it parses, sl_engine_create with check_only and
 * can_shape (the classifier, the flow tables, the key budget's description), the summary
 * `sluice --check` prints, a copy of the running config, then a reload to a fixed policy and
 * back (the reload's diff by name, both ways), then everything freed.
 *
 * Memory: a 256 MiB cgroup of which nothing is used (fuzz_common.h), so a policy that would not
 * fit is refused by admission with a message, as on a real machine; the key budget is 65536
 * keys, the smallest the appliance chooses by itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sl_engine.h"
#include "fuzz_common.h"

/* The policy reloads go to and come back from: shared and dedicated, limits, flows, shape. */
static const char fixed_policy[] =
	"sluice: 1\n"
	"profiles:\n"
	"  a: {mode: shared, rate: 8mbit, burst: 20000B, exceed: mark, dscp: 10,\n"
	"      limits: [{limit: 5MB, per: 1m}], max-flows: 100}\n"
	"  b: {mode: dedicated, key: 5-tuple, rate: 100pps, burst: 10pkt, exceed: shape,\n"
	"      max-keys: 1000, max-flows: 2}\n"
	"tenants:\n"
	"  - {name: t1, profile: a, match: {src: 10.0.0.0/8}}\n"
	"  - {name: t2, profile: b, match: [{vlan: 7}, {dst: \"2001:db8::/32\", proto: udp}]}\n";

static struct sl_config *fixed;
static FILE *devnull;

static int mem_probe(struct sl_mem *m, void *arg)
{
	(void)arg;
	return fuzz_mem(m, 256ull << 20);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sl_diag d = {0};

	(void)argc;
	(void)argv;
	if (sl_config_parse("fixed.yaml", fixed_policy, strlen(fixed_policy), &fixed, &d)) {
		sl_diag_print(&d, stderr);
		abort();
	}
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_engine_opts o = {.hz = 1000000000, .nb_lcores = 1, .max_keys = 1ull << 16,
				   .check_only = 1, .can_shape = 1, .mem_probe = mem_probe};
	struct sl_config *c = NULL, *copy;
	struct sl_engine *e = NULL;
	struct sl_diag d = {0};
	/* exactly size bytes, no terminating NUL: ASan sees a read past the end */
	char *text = malloc(size ? size : 1);

	if (!text)
		abort();
	if (size)
		memcpy(text, data, size);
	if (sl_config_parse("fuzz.yaml", text, size, &c, &d) == 0) {
		if (!c)
			abort();
		sl_diag_print(&d, devnull);	/* messages of a valid file: none expected, any printed */
		sl_diag_free(&d);
		if (sl_engine_create(c, &o, &e, &d) == 0) {
			sl_engine_describe(e, devnull);
			copy = sl_engine_config(e);
			if (!copy)
				abort();
			sl_config_free(copy);
			sl_diag_free(&d);
			if (sl_engine_reload(e, fixed, NULL, &d) == 0) {
				sl_diag_free(&d);
				(void)sl_engine_reload(e, c, NULL, &d);
			}
			sl_engine_describe(e, devnull);
			sl_engine_free(e);
		}
		sl_config_free(c);
	} else if (c) {
		abort();	/* a refused file returns nothing */
	}
	sl_diag_print(&d, devnull);
	sl_diag_free(&d);
	free(text);
	return 0;
}
