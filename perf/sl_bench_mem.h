/* sl_bench_mem.h - the process's resident memory, read by the benchmarks (perf/sl-bench,
 * perf/sl-classify-bench) around what they build. */
#ifndef SL_BENCH_MEM_H
#define SL_BENCH_MEM_H

#include <stdint.h>

/* Resident bytes of this process now (/proc/self/statm), 0 when unreadable. */
uint64_t slb_rss_bytes(void);

#endif
