/* sl_diag.h - diagnostics of the control path: a list of operator-readable messages
 * ("file:line: field: what was expected"), collected, then reported once at the boundary. */
#ifndef SL_DIAG_H
#define SL_DIAG_H

#include <stdio.h>

struct sl_diag {
	char **msg;		/* owned, each malloc'ed */
	unsigned n;
	unsigned cap;
};

/* Append "file:line: field: message" (line 0 omits the line; field NULL omits it). */
void sl_diag_add(struct sl_diag *d, const char *file, unsigned line, const char *field,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void sl_diag_print(const struct sl_diag *d, FILE *f);	/* one message per line */
void sl_diag_free(struct sl_diag *d);			/* leaves d empty and reusable */

#endif
