/* sl_mem.h - how much more memory this process may take before the kernel's OOM killer takes
 * it: its cgroup's limit and use (v2 or v1), RLIMIT_AS and the system's MemAvailable. No EAL. */
#ifndef SL_MEM_H
#define SL_MEM_H

#include <stdint.h>

#define SL_MEM_NONE UINT64_MAX

/*
 * A reading. limit: the tightest bound on what the process (its cgroup) may hold in all: the
 * cgroup's memory limit (v2: the least memory.max from its cgroup up to the root; v1:
 * memory.stat hierarchical_memory_limit), else SL_MEM_NONE. used: what counts against that
 * limit now, without the file cache the kernel would reclaim first (memory.current or
 * memory.usage_in_bytes less the active and inactive file pages; shared memory, which DPDK's
 * memory is without huge pages, counts), or the process's RSS without a cgroup limit.
 * avail: the system's MemAvailable. as_left: RLIMIT_AS minus the address space in use, or
 * SL_MEM_NONE. what: which bound is the limit, for messages ("cgroup v2 memory.max").
 */
struct sl_mem {
	uint64_t limit;
	uint64_t used;
	uint64_t avail;
	uint64_t as_left;
	const char *what;
};

/* Read the bounds of the calling process. Returns 0 (fields it cannot read are SL_MEM_NONE). */
int sl_mem_read(struct sl_mem *m);

/*
 * Bytes that may still be allocated and touched: min(limit - used, avail, as_left) less a
 * margin (1/16 of the limit, at most 256 MiB and at least 32 MiB: stacks, libraries, the
 * allocator's own slack, other processes of the cgroup growing meanwhile). 0 when nothing.
 */
uint64_t sl_mem_headroom(const struct sl_mem *m);

/* Something a probe function can be: tests give fixed readings. */
typedef int (*sl_mem_probe_fn)(struct sl_mem *m, void *arg);

struct sl_diag;

/*
 * Control path, before allocating `need` bytes for `what` ("the reload"): 0 when it fits the
 * headroom read by probe (NULL: sl_mem_read), else -ENOMEM and one message in d (file `path`)
 * with the figures and `fix`, what the operator can change.
 */
int sl_mem_admit(sl_mem_probe_fn probe, void *arg, const char *path, uint64_t need,
		 const char *what, const char *fix, struct sl_diag *d);

#endif
