/* sl_diag.c - collect and print control-path diagnostics. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sl_diag.h"

void sl_diag_add(struct sl_diag *d, const char *file, unsigned line, const char *field,
		 const char *fmt, ...)
{
	char body[512], *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (line)
		r = asprintf(&s, "%s:%u: %s%s%s", file ? file : "<input>", line,
			     field ? field : "", field ? ": " : "", body);
	else
		r = asprintf(&s, "%s: %s%s%s", file ? file : "<input>",
			     field ? field : "", field ? ": " : "", body);
	if (r < 0)
		return;
	if (d->n == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 8;
		char **m = realloc(d->msg, cap * sizeof(*m));
		if (!m) {
			free(s);
			return;
		}
		d->msg = m;
		d->cap = cap;
	}
	d->msg[d->n++] = s;
}

void sl_diag_print(const struct sl_diag *d, FILE *f)
{
	for (unsigned i = 0; i < d->n; i++)
		fprintf(f, "%s\n", d->msg[i]);
}

void sl_diag_free(struct sl_diag *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->msg[i]);
	free(d->msg);
	memset(d, 0, sizeof(*d));
}
