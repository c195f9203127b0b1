/* sl_mem.c - read the cgroup (v2, v1), rlimit and system memory bounds of this process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "sl_diag.h"
#include "sl_mem.h"

/* First line of a file as a number; "max" -> SL_MEM_NONE. -errno when unreadable. */
static int read_u64(const char *path, uint64_t *v)
{
	char buf[64];
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	if (fgets(buf, sizeof(buf), f)) {
		r = 0;
		if (!strncmp(buf, "max", 3))
			*v = SL_MEM_NONE;
		else
			*v = strtoull(buf, NULL, 10);
	}
	fclose(f);
	return r;
}

/* The value of `key` in a "key value" file (memory.stat, /proc/meminfo: "key: N kB"). */
static int read_key(const char *path, const char *key, uint64_t *v)
{
	char line[256];
	size_t kl = strlen(key);
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == ':')) {
			char *end;

			*v = strtoull(line + kl + 1, &end, 10);
			if (strstr(end, "kB"))
				*v *= 1024;
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

/*
 * The mount point of the cgroup2 hierarchy, or of the v1 hierarchy holding the memory
 * controller, from /proc/self/mountinfo, into mnt; 2 or 1, or 0 when there is none.
 */
static int cgroup_mount(char *mnt, size_t sz, int want)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), point[512], type[64], opts[256];

		if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", point) != 1 ||
		    sscanf(sep + 3, "%63s %*s %255s", type, opts) != 2)
			continue;
		if (want == 2 && !strcmp(type, "cgroup2"))
			found = 2;
		else if (want == 1 && !strcmp(type, "cgroup") && strstr(opts, "memory"))
			found = 1;
		if (found)
			snprintf(mnt, sz, "%s", point);
	}
	fclose(f);
	return found;
}

/* The process's cgroup path in hierarchy v (2: "0::/path"; 1: the line naming memory). */
static int cgroup_path(char *out, size_t sz, int v)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

		if (!b)
			continue;
		b[strcspn(b, "\n")] = 0;
		*a = *b = 0;	/* line: hierarchy id, a + 1: controllers, b + 1: path */
		if (v == 2 ? !strcmp(line, "0") && a[1] == 0 : strstr(a + 1, "memory") != NULL) {
			snprintf(out, sz, "%s", b + 1);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* v2: the least memory.max from the process's cgroup up to the mount's root; used from it. */
static int read_v2(struct sl_mem *m)
{
	char mnt[512], rel[512], dir[1100], p[1200];
	uint64_t cur = 0, act = 0, inact = 0, lim = 0;

	if (cgroup_mount(mnt, sizeof(mnt), 2) != 2 || !cgroup_path(rel, sizeof(rel), 2))
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s%s", mnt, rel);
	snprintf(p, sizeof(p), "%s/memory.current", dir);
	if (read_u64(p, &cur))
		return -ENOENT;
	snprintf(p, sizeof(p), "%s/memory.stat", dir);
	read_key(p, "active_file", &act);
	read_key(p, "inactive_file", &inact);
	for (;;) {
		char *slash;

		snprintf(p, sizeof(p), "%s/memory.max", dir);
		if (!read_u64(p, &lim) && lim < m->limit)
			m->limit = lim;
		if (strlen(dir) <= strlen(mnt))
			break;
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	if (m->limit == SL_MEM_NONE)
		return -ENOENT;
	m->used = cur > act + inact ? cur - act - inact : 0;
	m->what = "cgroup v2 memory.max";
	return 0;
}

static int read_v1(struct sl_mem *m)
{
	char mnt[512], rel[512], p[1200];
	uint64_t lim = 0, use = 0, act = 0, inact = 0;

	if (cgroup_mount(mnt, sizeof(mnt), 1) != 1 || !cgroup_path(rel, sizeof(rel), 1))
		return -ENOENT;
	snprintf(p, sizeof(p), "%s%s/memory.stat", mnt, rel);
	if (read_key(p, "hierarchical_memory_limit", &lim))
		return -ENOENT;
	read_key(p, "total_active_file", &act);
	read_key(p, "total_inactive_file", &inact);
	snprintf(p, sizeof(p), "%s%s/memory.usage_in_bytes", mnt, rel);
	if (read_u64(p, &use))
		return -ENOENT;
	if (lim >= (1ull << 62))	/* "no limit" is a page-rounded 2^63 */
		return -ENOENT;
	m->limit = lim;
	m->used = use > act + inact ? use - act - inact : 0;
	m->what = "cgroup v1 memory limit";
	return 0;
}

int sl_mem_read(struct sl_mem *m)
{
	struct rlimit rl;
	uint64_t pages, rss;
	FILE *f;

	m->limit = m->used = m->avail = m->as_left = SL_MEM_NONE;
	m->what = "MemAvailable";
	if (read_key("/proc/meminfo", "MemAvailable", &m->avail))
		m->avail = SL_MEM_NONE;
	if (read_v2(m) && read_v1(m)) {
		m->limit = SL_MEM_NONE;
		m->used = 0;
		m->what = "MemAvailable";
	}
	f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%lu %lu", &pages, &rss) == 2) {
			if (m->limit == SL_MEM_NONE)
				m->used = (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
			if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY) {
				uint64_t vm = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);

				m->as_left = rl.rlim_cur > vm ? rl.rlim_cur - vm : 0;
			}
		}
		fclose(f);
	}
	return 0;
}

uint64_t sl_mem_headroom(const struct sl_mem *m)
{
	uint64_t room = SL_MEM_NONE, margin = 32ull << 20;

	if (m->limit != SL_MEM_NONE) {
		room = m->limit > m->used ? m->limit - m->used : 0;
		margin = m->limit / 16;
		margin = margin < (32ull << 20) ? 32ull << 20 : margin > (256ull << 20) ? 256ull << 20
											: margin;
	}
	if (m->avail < room)
		room = m->avail;
	if (m->as_left < room)
		room = m->as_left;
	if (room == SL_MEM_NONE)
		return room;
	return room > margin ? room - margin : 0;
}

static double mb(uint64_t bytes)
{
	return (double)bytes / (1 << 20);
}

int sl_mem_admit(sl_mem_probe_fn probe, void *arg, const char *path, uint64_t need,
		 const char *what, const char *fix, struct sl_diag *d)
{
	struct sl_mem m;
	uint64_t room;

	if (probe ? probe(&m, arg) : sl_mem_read(&m))
		return 0;	/* nothing known: nothing to refuse on */
	room = sl_mem_headroom(&m);
	if (need <= room)
		return 0;
	if (m.limit != SL_MEM_NONE)
		sl_diag_add(d, path, 0, NULL, "%s needs %.0f MB, but only %.0f MB more may be used "
			    "(%s %.0f MB, %.0f MB in use, a margin kept): not done; %s", what,
			    mb(need), mb(room), m.what, mb(m.limit), mb(m.used), fix);
	else
		sl_diag_add(d, path, 0, NULL, "%s needs %.0f MB, but only %.0f MB more may be used "
			    "(%s %.0f MB, a margin kept): not done; %s", what, mb(need), mb(room),
			    m.avail <= m.as_left ? "MemAvailable" : "RLIMIT_AS",
			    mb(m.avail <= m.as_left ? m.avail : m.as_left), fix);
	return -ENOMEM;
}
