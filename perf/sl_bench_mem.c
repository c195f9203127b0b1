/* sl_bench_mem.c - the process's resident memory for the benchmarks. */
#include <stdio.h>
#include <unistd.h>
#include "sl_bench_mem.h"

uint64_t slb_rss_bytes(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}
