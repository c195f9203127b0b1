/* test_units.c - operator units: every rate, size and duration unit, exact decimals, SI vs IEC,
 * the 2^50 bounds, and the refused spellings with the message the operator gets. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "sl_units.h"

#define NS 1000000000ull

static void rate_ok(const char *s, enum sl_unit unit, uint64_t amount, uint64_t per_ns)
{
	enum sl_unit u = SL_UNIT_COUNT;
	uint64_t a = 0, p = 0;
	const char *err = NULL;

	if (sl_parse_rate(s, &u, &a, &p, &err))
		fail_msg("'%s' refused: %s", s, err);
	assert_int_equal(u, unit);
	assert_int_equal(a, amount);
	assert_int_equal(p, per_ns);
}

/* Refused, and the message holds every one of the NULL-terminated words. */
static void check_err(const char *what, const char *s, int rc, const char *err, va_list ap)
{
	const char *w;

	if (rc != -EINVAL)
		fail_msg("%s '%s' accepted (rc %d)", what, s, rc);
	assert_non_null(err);
	while ((w = va_arg(ap, const char *)))
		if (!strstr(err, w))
			fail_msg("%s '%s': message '%s' lacks '%s'", what, s, err, w);
}

static void rate_bad(const char *s, ...)
{
	enum sl_unit u;
	uint64_t a, p;
	const char *err = NULL;
	int rc = sl_parse_rate(s, &u, &a, &p, &err);
	va_list ap;

	va_start(ap, s);
	check_err("rate", s, rc, err, ap);
	va_end(ap);
}

static void size_ok(const char *s, enum sl_unit unit, uint64_t v)
{
	enum sl_unit u = SL_UNIT_COUNT;
	const char *err = NULL;
	uint64_t r = 0;

	if (sl_parse_size(s, &u, &r, &err))
		fail_msg("'%s' refused: %s", s, err);
	assert_int_equal(u, unit);
	assert_int_equal(r, v);
}

static void size_bad(const char *s, ...)
{
	enum sl_unit u;
	const char *err = NULL;
	uint64_t v;
	int rc = sl_parse_size(s, &u, &v, &err);
	va_list ap;

	va_start(ap, s);
	check_err("size", s, rc, err, ap);
	va_end(ap);
}

static void dur_ok(const char *s, uint64_t ns)
{
	const char *err = NULL;
	uint64_t r = 0;

	if (sl_parse_duration(s, &r, &err))
		fail_msg("'%s' refused: %s", s, err);
	assert_int_equal(r, ns);
}

static void dur_bad(const char *s, ...)
{
	const char *err = NULL;
	uint64_t v;
	int rc = sl_parse_duration(s, &v, &err);
	va_list ap;

	va_start(ap, s);
	check_err("duration", s, rc, err, ap);
	va_end(ap);
}

static void rate_units(void **state)
{
	(void)state;
	rate_ok("1bit", SL_UNIT_BITS, 1, NS);
	rate_ok("1kbit", SL_UNIT_BITS, 1000, NS);
	rate_ok("8mbit", SL_UNIT_BITS, 8000000, NS);
	rate_ok("1gbit", SL_UNIT_BITS, 1000000000, NS);
	rate_ok("1tbit", SL_UNIT_BITS, 1000000000000ull, NS);
	rate_ok("1pps", SL_UNIT_PACKETS, 1, NS);
	rate_ok("1kpps", SL_UNIT_PACKETS, 1000, NS);
	rate_ok("1mpps", SL_UNIT_PACKETS, 1000000, NS);
	rate_ok("800kbit", SL_UNIT_BITS, 800000, NS);
	rate_ok("14880952pps", SL_UNIT_PACKETS, 14880952, NS);
	rate_ok("08mbit", SL_UNIT_BITS, 8000000, NS);	/* a leading zero is harmless */
}

static void rate_decimals(void **state)
{
	(void)state;
	/* only the decimal scale is cancelled: the result is exact */
	rate_ok("1.5kbit", SL_UNIT_BITS, 1500, NS);
	rate_ok("0.5pps", SL_UNIT_PACKETS, 5, 10 * NS);
	rate_ok("1.50mbit", SL_UNIT_BITS, 1500000, NS);
	rate_ok("2.5tbit", SL_UNIT_BITS, 2500000000000ull, NS);
	rate_ok("0.1pps", SL_UNIT_PACKETS, 1, 10 * NS);
	rate_ok("0.25pps", SL_UNIT_PACKETS, 25, 100 * NS);
	rate_ok("0.001bit", SL_UNIT_BITS, 1, 1000 * NS);
	rate_ok("0.000001bit", SL_UNIT_BITS, 1, 1000000 * NS);	/* 1e15 ns <= 2^50 */
	rate_ok("1.000001pps", SL_UNIT_PACKETS, 1000001, 1000000 * NS);
	rate_ok("0.0000001mbit", SL_UNIT_BITS, 1, 10 * NS);
	rate_ok("1.0mbit", SL_UNIT_BITS, 1000000, NS);
	rate_ok("2.000kpps", SL_UNIT_PACKETS, 2000, NS);
	rate_ok("1.234567mpps", SL_UNIT_PACKETS, 1234567, NS);
}

static void rate_bounds(void **state)
{
	(void)state;
	rate_ok("1125899906842624bit", SL_UNIT_BITS, 1ull << 50, NS);	/* 2^50 */
	rate_ok("1125tbit", SL_UNIT_BITS, 1125000000000000ull, NS);
	rate_ok("1125899906mpps", SL_UNIT_PACKETS, 1125899906000000ull, NS);
	rate_bad("1125899906842625bit", "too large", "2^50", NULL);
	rate_bad("1126tbit", "too large", NULL);
	rate_bad("1125899907mpps", "too large", NULL);
	rate_bad("0.0000001bit", "decimal", NULL);		/* would need 1e16 ns */
	rate_bad("1.0000001pps", "decimal", NULL);
	rate_bad("999999999999999999999999bit", "too large", NULL);
	rate_bad("1.00000000000000000001bit", "digits", NULL);
	rate_ok("1.00000000000000000000bit", SL_UNIT_BITS, 1, NS);	/* zeros cost nothing */
}

static void rate_refused(void **state)
{
	(void)state;
	rate_bad("", "empty", NULL);
	rate_bad("mbit", "number", NULL);
	rate_bad("8", "missing unit", "mbit", NULL);
	rate_bad("8 mbit", "without a space", NULL);
	rate_bad("8\tmbit", "without a space", NULL);
	rate_bad("-8mbit", "greater than zero", "negative", NULL);
	rate_bad("+8mbit", "number", NULL);
	rate_bad("0mbit", "greater than zero", NULL);
	rate_bad("0.000pps", "greater than zero", NULL);
	rate_bad(".5mbit", "number", NULL);
	rate_bad("8.mbit", "digits after the decimal point", NULL);
	rate_bad("1e6bit", "unknown unit", NULL);
	rate_bad("8mbit/s", "unknown unit", "kbit", "pps", NULL);
	rate_bad("8Mbit", "lowercase", "mbit", NULL);
	rate_bad("8KPPS", "lowercase", NULL);
	rate_bad("8MB", "per second", NULL);
	rate_bad("8pkt", "per second", NULL);
	rate_bad("8mibit", "unknown unit", NULL);
	rate_bad("8,5mbit", "unknown unit", NULL);
}

static void rate_bps_ambiguous(void **state)
{
	const char *err = NULL;
	enum sl_unit u;
	uint64_t a, p;

	(void)state;
	rate_bad("8mbps", "ambiguous", "bits", "bytes", "write 'mbit'", "convert bytes to bits",
		 NULL);
	rate_bad("8Mbps", "ambiguous", "bits", "bytes", "'mbit'", NULL);
	rate_bad("8MBps", "ambiguous", "bits", "bytes", "'mbit'", NULL);
	rate_bad("8MBPS", "ambiguous", "'mbit'", NULL);
	rate_bad("100kbps", "ambiguous", "kilobits", "kilobytes", "'kbit'", NULL);
	rate_bad("100Kbps", "ambiguous", "'kbit'", NULL);
	rate_bad("1gbps", "ambiguous", "gigabytes", "'gbit'", NULL);
	rate_bad("1Gbps", "ambiguous", "'gbit'", NULL);
	rate_bad("1tbps", "ambiguous", "'tbit'", NULL);
	rate_bad("1000bps", "ambiguous", "bits or bytes", "'bit'", NULL);
	/* the whole message for the common case */
	assert_int_equal(sl_parse_rate("8mbps", &u, &a, &p, &err), -EINVAL);
	assert_string_equal(err, "ambiguous unit: mbps/Mbps/MBps could be megabits or megabytes "
			    "per second; write 'mbit' for megabits per second, or convert bytes "
			    "to bits (1 MB/s = 8mbit)");
	rate_bad("8xbps", "unknown unit", NULL);
}

static void sizes(void **state)
{
	(void)state;
	size_ok("20000B", SL_UNIT_BITS, 160000);
	size_ok("1B", SL_UNIT_BITS, 8);
	size_ok("1KB", SL_UNIT_BITS, 8000);
	size_ok("5MB", SL_UNIT_BITS, 40000000);
	size_ok("1GB", SL_UNIT_BITS, 8000000000ull);
	size_ok("1KiB", SL_UNIT_BITS, 8192);
	size_ok("1MiB", SL_UNIT_BITS, 8388608);
	size_ok("1GiB", SL_UNIT_BITS, 8589934592ull);
	size_ok("10pkt", SL_UNIT_PACKETS, 10);
	size_ok("1pkt", SL_UNIT_PACKETS, 1);
	/* decimals: fine as long as the result is whole bytes / packets */
	size_ok("1.5KB", SL_UNIT_BITS, 12000);
	size_ok("1.5KiB", SL_UNIT_BITS, 12288);
	size_ok("0.5KiB", SL_UNIT_BITS, 4096);
	size_ok("1.001KB", SL_UNIT_BITS, 8008);
	size_ok("2.0pkt", SL_UNIT_PACKETS, 2);
	size_ok("0.000001MB", SL_UNIT_BITS, 8);
	size_bad("1.0001KB", "whole number of bytes", NULL);
	size_bad("0.5B", "whole number of bytes", NULL);
	size_bad("0.1KiB", "whole number of bytes", NULL);	/* 102.4 bytes */
	size_bad("0.5pkt", "whole number of packets", NULL);
	size_bad("1.5pkt", "whole number of packets", NULL);
}

static void size_bounds(void **state)
{
	(void)state;
	size_ok("140737488355328B", SL_UNIT_BITS, 1ull << 50);	/* 2^47 bytes = 2^50 bits */
	size_ok("131072GiB", SL_UNIT_BITS, 1ull << 50);
	size_ok("1125899906842624pkt", SL_UNIT_PACKETS, 1ull << 50);
	size_bad("140737488355329B", "too large", "2^50 bits", NULL);
	size_bad("131073GiB", "too large", NULL);
	size_bad("140738GB", "too large", NULL);
	size_bad("1125899906842625pkt", "too large", "2^50 packets", NULL);
	size_bad("99999999999999999999B", "too large", NULL);
}

static void size_refused(void **state)
{
	(void)state;
	size_bad("", "empty", NULL);
	size_bad("1500", "missing unit", "1500B", NULL);
	size_bad("1500 B", "without a space", NULL);
	size_bad("0B", "greater than zero", NULL);
	size_bad("0pkt", "greater than zero", NULL);
	size_bad("-1B", "negative", NULL);
	size_bad("1kb", "case-sensitive", "KB", NULL);
	size_bad("1b", "case-sensitive", "bits", NULL);
	size_bad("1mib", "case-sensitive", NULL);
	size_bad("1KIB", "case-sensitive", NULL);
	size_bad("1PKT", "case-sensitive", NULL);
	size_bad("1kbit", "not bits", NULL);
	size_bad("8mbit", "not bits", NULL);
	size_bad("8mbps", "not bits", NULL);
	size_bad("10pps", "not bits or a rate", NULL);
	size_bad("10pkts", "'pkt'", NULL);
	size_bad("10packets", "'pkt'", NULL);
	size_bad("1TB", "unknown unit", "KiB", "pkt", NULL);
	size_bad("1kB", "case-sensitive", NULL);
}

static void durations(void **state)
{
	(void)state;
	dur_ok("1s", NS);
	dur_ok("30s", 30 * NS);
	dur_ok("60s", 60 * NS);
	dur_ok("1m", 60 * NS);
	dur_ok("90m", 5400 * NS);
	dur_ok("1h", 3600 * NS);
	dur_ok("1d", 86400 * NS);
	dur_ok("13d", 13 * 86400 * NS);
	dur_ok("1125899s", 1125899 * NS);		/* just under 2^50 ns */
	dur_ok("1.0m", 60 * NS);			/* a zero fraction is still whole */
	dur_bad("14d", "too long", "13 days", NULL);
	dur_bad("1125900s", "too long", NULL);
	dur_bad("0s", "greater than zero", NULL);
	dur_bad("1.5m", "whole numbers", "90s", NULL);
	dur_bad("60", "missing unit", NULL);
	dur_bad("", "empty", NULL);
	dur_ok("1ms", 1000000);
	dur_ok("20ms", 20000000);
	dur_ok("250us", 250000);
	dur_bad("1ns", "unknown unit", "30s", NULL);
	dur_bad("1.5ms", "whole numbers", NULL);
	dur_bad("1M", "unknown unit", NULL);
	dur_bad("1 s", "without a space", NULL);
	dur_bad("-1s", "negative", NULL);
	dur_bad("s", "number", NULL);
	dur_bad("1sec", "unknown unit", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rate_units),
		cmocka_unit_test(rate_decimals),
		cmocka_unit_test(rate_bounds),
		cmocka_unit_test(rate_refused),
		cmocka_unit_test(rate_bps_ambiguous),
		cmocka_unit_test(sizes),
		cmocka_unit_test(size_bounds),
		cmocka_unit_test(size_refused),
		cmocka_unit_test(durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
