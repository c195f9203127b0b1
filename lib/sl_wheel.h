/* sl_wheel.h - a timing wheel that holds items until their departure tick (Carousel, Saeed et
 * al. 2017): O(1) insert, release slot by slot, FIFO within a slot. No EAL; one owner thread. */
#ifndef SL_WHEEL_H
#define SL_WHEEL_H

#include <errno.h>
#include <stdint.h>

/*
 * Slots. An item due at tick `due` belongs to slot number due / width and lives in ring slot
 * (slot number) & mask. Every held item's slot number is in [cur, cur + mask]: inserts clamp
 * to that window (an item already due goes to slot cur, one beyond the horizon to slot
 * cur + mask), and cur moves only over empty slots (forward; anywhere when the wheel is
 * empty), so one ring slot never holds two laps and the ring needs no per-slot lap number.
 * A slot is a FIFO of blocks of SL_WHEEL_BLK item pointers, not a list through the items: a
 * release reads the pointers of a slot from a few lines and the caller can prefetch every item
 * it got before touching one (a list through items that waited milliseconds is one cache miss
 * after the other). Blocks come from one allocation sized at init for max_items, first from
 * those given back, else the next never used one (memory is touched as the wheel first holds
 * that much, not at init): a block in use holds at least one item, so there is one while
 * fewer than max_items are held.
 * Time. A slot is released once its first tick has come: release(now) empties every slot
 * number <= now / width, so an item leaves at most one slot width before its due and, with a
 * poll at every tick, at the first poll of its slot (or the first poll at or after its insert,
 * for an item inserted late). cur is the slot that the next release starts from: after a release
 * that emptied everything due it is now / width itself, not the slot after, so an item inserted
 * late (due in the past) leaves at the next poll rather than a slot later. An item clamped to
 * the horizon leaves early (at the start of slot cur + mask): the caller sizes the horizon and
 * calls release before inserting at a new tick, or the window starts at a stale cur.
 * Cost. Insert is O(1). Release is O(items released + slots walked): a wheel that held
 * nothing jumps cur to now / width; one that held items while idle for many laps walks the
 * ring at most once (every item lies within mask + 1 slots of cur; when the last one leaves,
 * cur jumps).
 */
struct sl_wheel_item {		/* embedded by the caller in what it holds (e.g. an mbuf field) */
	uint64_t due;		/* tick it may leave at */
};

#define SL_WHEEL_BLK 6		/* item pointers per block: a block is one 64-byte line */

struct sl_wheel_blk {
	struct sl_wheel_blk *next;	/* the slot's next block, or the pool's */
	uint32_t head, n;		/* it[head .. n) are held */
	struct sl_wheel_item *it[SL_WHEEL_BLK];
} __attribute__((aligned(64)));

struct sl_wheel {
	uint64_t width;		/* ticks per slot (>= 1) */
	uint64_t cur;		/* slot number (tick / width) of the next slot to release */
	uint32_t mask;		/* nb_slots - 1, nb_slots a power of two */
	uint32_t max_items;	/* held never exceeds it (insert refuses) */
	uint64_t held;		/* items in the wheel */
	uint64_t clamped;	/* inserts due beyond the horizon (put in its last slot) */
	struct sl_wheel_slot {
		struct sl_wheel_blk *head, *tail;
	} *slot;
	struct sl_wheel_blk *pool;	/* free blocks */
	struct sl_wheel_blk *blocks;	/* max_items of them, one allocation */
	uint32_t fresh;			/* blocks[fresh ..] never used: not touched yet */
};

#define SL_WHEEL_MAX_SLOTS (1u << 24)

/*
 * Control path: a wheel of slots of `width` ticks covering at least `horizon` ticks (slots =
 * next power of two >= horizon / width + 2), holding at most max_items (>= 1), starting at
 * tick `now`. 0 or -EINVAL (width 0, max_items 0, or more than 2^24 slots) / -ENOMEM. An item
 * due before t + horizon is never clamped while cur >= t / width, as after a release at tick t
 * that returned everything due.
 */
int sl_wheel_init(struct sl_wheel *w, uint64_t width, uint64_t horizon, uint32_t max_items,
		  uint64_t now);
/* Frees the slots and blocks (not the items still held: drain them first). Safe on a zeroed
 * wheel. */
void sl_wheel_free(struct sl_wheel *w);
/* Bytes sl_wheel_init allocates for these arguments (for admission before allocating); 0 when
 * sl_wheel_init would refuse them. */
uint64_t sl_wheel_bytes(uint64_t width, uint64_t horizon, uint32_t max_items);

/*
 * Data path: hold it until it->due; 0, or -ENOSPC when max_items are held (it is not held).
 * An item already due (slot before cur) goes in slot cur; one beyond the horizon (slot >= cur
 * + nb_slots) in the last slot of the horizon, counted in clamped.
 */
static inline int sl_wheel_insert(struct sl_wheel *w, struct sl_wheel_item *it)
{
	uint64_t s = it->due / w->width;
	struct sl_wheel_slot *sl;
	struct sl_wheel_blk *b;

	if (w->held >= w->max_items)
		return -ENOSPC;
	if (s < w->cur) {
		s = w->cur;
	} else if (s - w->cur > w->mask) {	/* no overflow: s >= cur */
		s = w->cur + w->mask;
		w->clamped++;
	}
	sl = &w->slot[s & w->mask];
	b = sl->tail;
	if (!b || b->n == SL_WHEEL_BLK) {	/* held < max_items: the pool or fresh has one */
		struct sl_wheel_blk *nb = w->pool;

		if (nb)
			w->pool = nb->next;
		else
			nb = &w->blocks[w->fresh++];
		nb->next = NULL;
		nb->head = nb->n = 0;
		if (b)
			b->next = nb;
		else
			sl->head = nb;
		sl->tail = nb;
		b = nb;
	}
	b->it[b->n++] = it;
	w->held++;
	return 0;
}

/* Slot cur's items, FIFO, into out[n .. max): the new n; *rest: the slot still holds items.
 * Emptied blocks go back to the pool. */
static inline unsigned sl_wheel_pop_slot(struct sl_wheel *w, struct sl_wheel_item **out,
					 unsigned n, unsigned max, int *rest)
{
	struct sl_wheel_slot *sl = &w->slot[w->cur & w->mask];
	struct sl_wheel_blk *b = sl->head;
	unsigned n0 = n;

	while (b && n < max) {
		struct sl_wheel_blk *next = b->next;
		unsigned k = b->n - b->head;

		if (next)
			__builtin_prefetch(next);
		if (k > max - n)
			k = max - n;
		for (unsigned i = 0; i < k; i++)
			out[n + i] = b->it[b->head + i];
		n += k;
		b->head += k;
		if (b->head < b->n)	/* stopped at max inside it */
			break;
		b->next = w->pool;
		w->pool = b;
		b = next;
	}
	sl->head = b;
	if (!b)
		sl->tail = NULL;
	w->held -= n - n0;
	*rest = b != NULL;
	return n;
}

/*
 * Data path: up to max items whose slot number <= now / width, slot by slot in slot order,
 * FIFO within a slot, into out[]; returns how many. Stops at max in the middle of a slot and
 * resumes there next call (cur stays on the slot of the last item returned). Afterwards cur is
 * now / width when the wheel is empty (whatever it was: an empty wheel may also follow a clock
 * that went back) or when everything due was returned; a clock behind cur releases nothing.
 */
static inline unsigned sl_wheel_release(struct sl_wheel *w, uint64_t now,
					struct sl_wheel_item **out, unsigned max)
{
	uint64_t end = now / w->width;
	unsigned n = 0;

	if (!w->held) {
		w->cur = end;
		return 0;
	}
	if (end < w->cur)
		return 0;
	for (;;) {
		int rest;

		n = sl_wheel_pop_slot(w, out, n, max, &rest);
		if (!w->held) {		/* nothing left anywhere: skip the empty slots at once */
			w->cur = end;
			break;
		}
		if (rest || n == max || w->cur == end)
			break;
		w->cur++;
	}
	return n;
}

/*
 * Every held item regardless of time, in slot order then FIFO (graceful stop); up to max, and
 * resumes where it stopped. Moves cur to the slot of the last item returned, which may be
 * ahead of the clock: the next release on an emptied wheel brings it back.
 */
unsigned sl_wheel_drain(struct sl_wheel *w, struct sl_wheel_item **out, unsigned max);

#endif
