/* sl_wheel.c - control path of the timing wheel (sizing, allocation) and its drain at a
 * graceful stop; insert and release are inline in sl_wheel.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "sl_wheel.h"

/* Slots for these arguments (a power of two), or 0 when sl_wheel_init refuses them. */
static uint64_t nb_slots(uint64_t width, uint64_t horizon)
{
	uint64_t need, nb = 2;

	if (!width)
		return 0;
	need = horizon / width;
	/* a due in [t, t + horizon) is at most horizon / width + 1 slots past t / width */
	if (need > SL_WHEEL_MAX_SLOTS - 2)
		return 0;
	need += 2;
	while (nb < need)
		nb <<= 1;
	return nb;
}

uint64_t sl_wheel_bytes(uint64_t width, uint64_t horizon, uint32_t max_items)
{
	uint64_t nb = nb_slots(width, horizon);

	if (!nb || !max_items)
		return 0;
	return nb * sizeof(struct sl_wheel_slot) + (uint64_t)max_items * sizeof(struct sl_wheel_blk);
}

int sl_wheel_init(struct sl_wheel *w, uint64_t width, uint64_t horizon, uint32_t max_items,
		  uint64_t now)
{
	uint64_t nb = nb_slots(width, horizon);

	*w = (struct sl_wheel){0};
	if (!nb || !max_items)
		return -EINVAL;
	w->slot = calloc(nb, sizeof(*w->slot));
	/* mapped, not malloc'ed: its pages are touched as blocks are first used, whatever the
	 * allocator's debugging options (MALLOC_PERTURB_ fills what malloc returns) */
	w->blocks = mmap(NULL, (size_t)max_items * sizeof(*w->blocks), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w->blocks == MAP_FAILED)
		w->blocks = NULL;
	if (!w->slot || !w->blocks) {
		free(w->slot);
		if (w->blocks)
			munmap(w->blocks, (size_t)max_items * sizeof(*w->blocks));
		*w = (struct sl_wheel){0};
		return -ENOMEM;
	}
	w->width = width;
	w->cur = now / width;
	w->mask = (uint32_t)(nb - 1);
	w->max_items = max_items;
	return 0;
}

void sl_wheel_free(struct sl_wheel *w)
{
	free(w->slot);
	if (w->blocks)
		munmap(w->blocks, (size_t)w->max_items * sizeof(*w->blocks));
	*w = (struct sl_wheel){0};
}

unsigned sl_wheel_drain(struct sl_wheel *w, struct sl_wheel_item **out, unsigned max)
{
	unsigned n = 0;

	/* every item lies in [cur, cur + mask]: at most one pass over the ring in all calls */
	while (w->held && n < max) {
		int rest;

		n = sl_wheel_pop_slot(w, out, n, max, &rest);
		if (rest || !w->held)	/* stopped at max here, or nothing left: stay */
			break;
		if (n < max)
			w->cur++;
	}
	return n;
}
