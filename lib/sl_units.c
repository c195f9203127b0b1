/* sl_units.c - parse operator units into exact integers: rates as amount per per_ns, sizes in
 * bits or packets, durations in nanoseconds. Control path only; no floats anywhere. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "sl_units.h"

#define SL_UNITS_MAX (1ull << 50)	/* bound of amounts, periods, sizes and durations */
#define NS_PER_S 1000000000ull

typedef unsigned __int128 u128;

/* A decimal number as written: value = m / 10^d, trailing fraction zeros dropped. */
struct dec {
	uint64_t m;
	unsigned d;
};

struct unit {
	const char *name;
	enum sl_unit kind;
	uint64_t mult;		/* tokens (bits or packets) per unit */
};

static const struct unit rate_units[] = {
	{ "bit", SL_UNIT_BITS, 1 },
	{ "kbit", SL_UNIT_BITS, 1000ull },
	{ "mbit", SL_UNIT_BITS, 1000000ull },
	{ "gbit", SL_UNIT_BITS, 1000000000ull },
	{ "tbit", SL_UNIT_BITS, 1000000000000ull },
	{ "pps", SL_UNIT_PACKETS, 1 },
	{ "kpps", SL_UNIT_PACKETS, 1000ull },
	{ "mpps", SL_UNIT_PACKETS, 1000000ull },
};

/* Sizes in bits (8 per byte) or packets. */
static const struct unit size_units[] = {
	{ "B", SL_UNIT_BITS, 8 },
	{ "KB", SL_UNIT_BITS, 8000ull },
	{ "MB", SL_UNIT_BITS, 8000000ull },
	{ "GB", SL_UNIT_BITS, 8000000000ull },
	{ "KiB", SL_UNIT_BITS, 8ull << 10 },
	{ "MiB", SL_UNIT_BITS, 8ull << 20 },
	{ "GiB", SL_UNIT_BITS, 8ull << 30 },
	{ "pkt", SL_UNIT_PACKETS, 1 },
};

static const struct unit dur_units[] = {
	{ "us", SL_UNIT_COUNT, 1000 },
	{ "ms", SL_UNIT_COUNT, 1000000 },
	{ "s", SL_UNIT_COUNT, NS_PER_S },
	{ "m", SL_UNIT_COUNT, 60 * NS_PER_S },
	{ "h", SL_UNIT_COUNT, 3600 * NS_PER_S },
	{ "d", SL_UNIT_COUNT, 86400 * NS_PER_S },
};

#define RATE_UNITS "bit, kbit, mbit, gbit, tbit (bits per second) or pps, kpps, mpps"
#define SIZE_UNITS "B, KB, MB, GB (x1000), KiB, MiB, GiB (x1024) or pkt"

static int fail(const char **err, const char *msg)
{
	*err = msg;
	return -EINVAL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Read "N" or "N.F" at *sp into d and advance *sp to the unit. The number must start with a
 * digit; a fraction needs at least one digit. At most 18 significant digits.
 */
static int parse_dec(const char **sp, struct dec *d, const char **err)
{
	const char *s = *sp, *frac, *end;

	if (*s == '-')
		return fail(err, "must be greater than zero (negative values are not allowed)");
	if (!is_digit(*s))
		return fail(err, *s ? "expected a number followed by a unit" : "empty value");
	d->m = 0;
	d->d = 0;
	for (; is_digit(*s); s++) {
		if (d->m >= 100000000000000000ull)	/* keeps m < 1e18 */
			return fail(err, "number too large");
		d->m = d->m * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.') {
		frac = ++s;
		while (is_digit(*s))
			s++;
		if (s == frac)
			return fail(err, "expected digits after the decimal point");
		for (end = s; end > frac && end[-1] == '0'; end--)
			;
		for (; frac < end; frac++) {
			if (d->m >= 100000000000000000ull)
				return fail(err, "too many digits");
			d->m = d->m * 10 + (uint64_t)(*frac - '0');
			d->d++;
		}
	}
	if (*s == ' ' || *s == '\t')
		return fail(err, "write the unit right after the number, without a space");
	*sp = s;
	return 0;
}

static const struct unit *find_unit(const struct unit *t, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(t[i].name, s))
			return &t[i];
	return NULL;
}

static const struct unit *find_unit_nocase(const struct unit *t, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcasecmp(t[i].name, s))
			return &t[i];
	return NULL;
}

static uint64_t pow10u(unsigned e)
{
	uint64_t v = 1;

	while (e--)
		v *= 10;
	return v;
}

/* The "bps" family (any case): tc reads "mbps" as megabytes, most people as megabits. */
static const char *ambiguous_bps(const char *u)
{
	static const char *const msg[] = {
		"ambiguous unit: bps could be bits or bytes per second; write 'bit' for bits "
		"per second, or convert bytes to bits (1 byte/s = 8bit)",
		"ambiguous unit: kbps/Kbps/KBps could be kilobits or kilobytes per second; write "
		"'kbit' for kilobits per second, or convert bytes to bits (1 KB/s = 8kbit)",
		"ambiguous unit: mbps/Mbps/MBps could be megabits or megabytes per second; write "
		"'mbit' for megabits per second, or convert bytes to bits (1 MB/s = 8mbit)",
		"ambiguous unit: gbps/Gbps/GBps could be gigabits or gigabytes per second; write "
		"'gbit' for gigabits per second, or convert bytes to bits (1 GB/s = 8gbit)",
		"ambiguous unit: tbps/Tbps/TBps could be terabits or terabytes per second; write "
		"'tbit' for terabits per second, or convert bytes to bits (1 TB/s = 8tbit)",
	};
	static const char prefix[] = "kmgt";
	size_t n = strlen(u);
	const char *p;

	if (n < 3 || n > 4 || strcasecmp(u + n - 3, "bps"))
		return NULL;
	if (n == 3)
		return msg[0];
	p = strchr(prefix, u[0] | 0x20);
	return p ? msg[1 + (p - prefix)] : NULL;
}

int sl_parse_rate(const char *s, enum sl_unit *unit, uint64_t *amount, uint64_t *per_ns,
		  const char **err)
{
	const unsigned nu = sizeof(rate_units) / sizeof(rate_units[0]);
	const struct unit *u;
	struct dec d;
	u128 a, p;
	int r;

	r = parse_dec(&s, &d, err);
	if (r)
		return r;
	if (!*s)
		return fail(err, "missing unit; write e.g. 8mbit or 1000pps: " RATE_UNITS);
	u = find_unit(rate_units, nu, s);
	if (!u) {
		const char *amb = ambiguous_bps(s);

		if (amb)
			return fail(err, amb);
		if (find_unit_nocase(rate_units, nu, s))
			return fail(err, "rate units are lowercase, as tc spells them: "
				    RATE_UNITS);
		if (find_unit_nocase(size_units, sizeof(size_units) / sizeof(size_units[0]), s))
			return fail(err, "a rate needs a unit per second: " RATE_UNITS);
		return fail(err, "unknown unit; rates are written " RATE_UNITS);
	}
	if (!d.m)
		return fail(err, "must be greater than zero");
	/* amount / per_ns = m * mult / (10^d * 1e9); cancel only the decimal scale */
	a = (u128)d.m * u->mult;
	p = (u128)pow10u(d.d) * NS_PER_S;
	for (unsigned i = 0; i < d.d && a % 10 == 0; i++) {
		a /= 10;
		p /= 10;
	}
	if (p == NS_PER_S && a > SL_UNITS_MAX)
		return fail(err, "too large: at most 2^50 bits or packets per second");
	if (a > SL_UNITS_MAX || p > SL_UNITS_MAX)
		return fail(err, "too many decimal places to be kept exact (the rate would need "
			    "more than 2^50 tokens or nanoseconds)");
	*unit = u->kind;
	*amount = (uint64_t)a;
	*per_ns = (uint64_t)p;
	return 0;
}

static int size_unit_error(const char *s, const char **err)
{
	const unsigned nr = sizeof(rate_units) / sizeof(rate_units[0]);

	if (find_unit_nocase(size_units, sizeof(size_units) / sizeof(size_units[0]), s))
		return fail(err, "size units are case-sensitive: " SIZE_UNITS
			    " (a lowercase b would mean bits)");
	if (find_unit_nocase(rate_units, nr, s) || ambiguous_bps(s))
		return fail(err, "a size is in bytes or packets, not bits or a rate: " SIZE_UNITS);
	if (!strcasecmp(s, "p") || !strcasecmp(s, "pkts") || !strcasecmp(s, "packet") ||
	    !strcasecmp(s, "packets"))
		return fail(err, "packets are written 'pkt', e.g. 10pkt");
	return fail(err, "unknown unit; sizes are written " SIZE_UNITS);
}

int sl_parse_size(const char *s, enum sl_unit *unit, uint64_t *v, const char **err)
{
	const struct unit *u;
	struct dec d;
	u128 t, scale;
	int r;

	r = parse_dec(&s, &d, err);
	if (r)
		return r;
	if (!*s)
		return fail(err, "missing unit; write e.g. 1500B, 64KiB or 10pkt: " SIZE_UNITS);
	u = find_unit(size_units, sizeof(size_units) / sizeof(size_units[0]), s);
	if (!u)
		return size_unit_error(s, err);
	if (!d.m)
		return fail(err, "must be greater than zero");
	/* tokens = m * mult / 10^d, where a byte is 8 tokens: whole bytes or packets only */
	t = (u128)d.m * u->mult;
	scale = (u128)pow10u(d.d) * (u->kind == SL_UNIT_BITS ? 8 : 1);
	if (t % scale)
		return fail(err, u->kind == SL_UNIT_BITS ? "not a whole number of bytes"
							 : "not a whole number of packets");
	t /= pow10u(d.d);
	if (t > SL_UNITS_MAX)
		return fail(err, u->kind == SL_UNIT_BITS
			    ? "too large: at most 2^50 bits (about 140 TB)"
			    : "too large: at most 2^50 packets");
	*unit = u->kind;
	*v = (uint64_t)t;
	return 0;
}

int sl_parse_duration(const char *s, uint64_t *ns, const char **err)
{
	const struct unit *u;
	struct dec d;
	int r;

	r = parse_dec(&s, &d, err);
	if (r)
		return r;
	if (d.d)
		return fail(err, "durations are whole numbers (write 90s rather than 1.5m)");
	if (!*s)
		return fail(err, "missing unit; write e.g. 20ms, 30s, 5m, 1h or 1d");
	u = find_unit(dur_units, sizeof(dur_units) / sizeof(dur_units[0]), s);
	if (!u)
		return fail(err, "unknown unit; durations are written Nus, Nms, Ns, Nm, Nh or "
			    "Nd (microseconds to days), e.g. 30s");
	if (!d.m)
		return fail(err, "must be greater than zero");
	if ((u128)d.m * u->mult > SL_UNITS_MAX)
		return fail(err, "too long: at most 2^50 ns (about 13 days)");
	*ns = d.m * u->mult;
	return 0;
}
