/* sl_fair.h - flow fairness inside a shared shaped tenant (fair: flows): each flow may hold
 * at most its share of the tenant's queue, so TCP streams through one shaper get equal rates. */
#ifndef SL_FAIR_H
#define SL_FAIR_H

#include <stdint.h>

/*
 * A shaped tenant is one FIFO: every frame waits for the debt of the frames before it. A FIFO
 * shares its rate in proportion to what each flow keeps queued, and TCP streams that lose at
 * different times keep unequal amounts queued (drop-tail: 4 streams through tc tbf or a plain
 * shaper spread by 8-93% from their mean). Flow-aware admission (FRED, Lin and Morris,
 * SIGCOMM 1997) evens it out without a queue per flow: a waiting frame is dropped at once when
 * its flow already has frames waiting and would hold more than Q / n of the queue, Q the
 * tenant's queue (its smallest bucket debt) and n the flows with frames waiting (or that had
 * some within max-delay). A flow with nothing waiting is always admitted (as far as the
 * tenant's own limit allows), so a flow below its share never loses to the fairness, and a
 * flow alone (n = 1) is never a fair drop: its buckets decide, as with fair: none.
 *
 * The tenant keeps 64 flow slots in 16 groups of 4 (a flow's group from its hash, its slot
 * found by a 32-bit signature), each with what its flow had waiting when its last waiting
 * frame was taken (b, in 2^-16 units; that frame leaving at tick d) and when the oldest of
 * them leaves (tick d0). None leaves before d0 and the last at d; in between a FIFO drains
 * them at a steady pace, so at a tick `now` the flow still has
 *   b                                while now < d0,
 *   b * (d - now) / (d - d0)         from d0 on (rounded down; 0 once now >= d):
 * exact for a burst (it waits whole until its first frame leaves) and for a paced stream (its
 * frames spread over the queue). A frame taken when its flow has b' > 0 waiting makes the
 * slot {b' + its units (saturating), d0 or now when d0 has passed, its departure};
 * with nothing waiting, {its units, its departure, its departure}. A flow new to its group takes a slot whose
 * frames have all left, else the one that empties first. n counts the flows with frames
 * waiting or that had some within `hold` ticks (the profile's max-delay: a TCP stream that
 * pauses in loss recovery keeps its place, so the shares do not swing from Q / 4 to Q / 3
 * and back, which would cost every stream a burst of drops), found from a bitmap of the slots
 * that may count (cleared as they stop counting).
 * Everything is integer arithmetic on the engine's ticks and the profile's cost units (backlogs
 * and shares in 2^-16 units, saturating at 2^62), so the replay and its reference model
 * (tools/sl-refmodel.py) decide every frame alike.
 */

#define SL_FAIR_SLOTS 64
#define SL_FAIR_WAYS 4
/* Backlogs in 2^-16 units: a packet-rate flow's estimate would otherwise lose a whole packet
 * to rounding at each frame, as much as the frame adds. */
#define SL_FAIR_SHIFT 16
#define SL_FAIR_CAP (1ull << 62)	/* backlogs and shares saturate here (2^46 units) */
_Static_assert(SL_FAIR_SLOTS / SL_FAIR_WAYS == 16, "a flow's group: the top 4 bits of its hash");

struct sl_fair_slot {
	uint64_t d;		/* tick its flow's last waiting frame leaves */
	uint64_t d0;		/* tick the oldest of them leaves (the estimate's, from then on) */
	uint64_t b;		/* 2^-16 units its flow had waiting when the last was taken (it
				 * included) */
	uint32_t sig;		/* the flow's signature; 0: never used */
	uint32_t pad;
};

struct sl_fair {
	uint64_t active;	/* bit i: slot i may count in n (d + hold > now) */
	uint64_t pad[7];
	struct sl_fair_slot s[SL_FAIR_SLOTS];
} __attribute__((aligned(64)));

/* A frame's place among the tenant's flows, from sl_fair_look. */
struct sl_fair_look {
	unsigned slot;		/* the slot its flow has or would take */
	uint32_t sig;
	uint64_t backlog;	/* 2^-16 units its flow has waiting now (0: new to the slot or
				 * empty) */
	uint64_t share;		/* (Q << 16) / n: the most its flow may have waiting; all of
				 * it when the flow is alone (n = 1: its buckets decide) */
};

static inline uint32_t sl_fair_sig(uint64_t flow_hash)
{
	return (uint32_t)(flow_hash >> 32) | 1u;
}

/* 2^-16 units a slot's flow has waiting at now. */
static inline uint64_t sl_fair_backlog(const struct sl_fair_slot *s, uint64_t now)
{
	if ((int64_t)(s->d - now) <= 0)
		return 0;
	if ((int64_t)(s->d0 - now) > 0)
		return s->b;
	return (uint64_t)((unsigned __int128)s->b * (s->d - now) / (s->d - s->d0));
}

/*
 * Where frame of flow_hash stands in f at now, q the tenant's queue in units (Q), a flow
 * counting in n until `hold` ticks after its frames left; clears the bits of slots that
 * stopped counting (any caller may: they count for no later now).
 */
static inline void sl_fair_look(struct sl_fair *f, uint64_t flow_hash, uint64_t now,
				uint64_t q, uint64_t hold, struct sl_fair_look *out)
{
	unsigned g = (unsigned)(flow_hash >> 60) * SL_FAIR_WAYS;	/* the best-mixed bits */
	uint32_t sig = sl_fair_sig(flow_hash);
	unsigned slot = g, n = 0, own = 0;
	int found = 0;
	uint64_t act = __atomic_load_n(&f->active, __ATOMIC_RELAXED), gone = 0;

	for (unsigned k = 0; k < SL_FAIR_WAYS; k++)
		if (f->s[g + k].sig == sig) {
			slot = g + k;
			found = 1;
			break;
		}
	if (!found) {	/* a slot whose frames have all left, else the one that empties first */
		for (unsigned k = 1; k < SL_FAIR_WAYS; k++) {
			const struct sl_fair_slot *a = &f->s[slot], *c = &f->s[g + k];

			if ((int64_t)(a->d - now) > 0 && (int64_t)(c->d - a->d) < 0)
				slot = g + k;
		}
	}
	while (act) {
		unsigned i = (unsigned)__builtin_ctzll(act);

		act &= act - 1;
		if ((int64_t)(f->s[i].d + hold - now) > 0) {
			n++;
			own |= i == slot;
		} else {
			gone |= 1ull << i;
		}
	}
	if (gone)	/* relaxed atomics: lcores that share the tenant may race on the bitmap */
		__atomic_fetch_and(&f->active, ~gone, __ATOMIC_RELAXED);
	out->slot = slot;
	out->sig = sig;
	out->backlog = found ? sl_fair_backlog(&f->s[slot], now) : 0;
	n += !own;
	if (n == 1) {
		out->share = UINT64_MAX;
	} else {
		unsigned __int128 sh = ((unsigned __int128)q << SL_FAIR_SHIFT) / n;

		out->share = sh < SL_FAIR_CAP ? (uint64_t)sh : SL_FAIR_CAP;
	}
}

/* 1: the frame may be taken; 0: its flow would hold more than its share (a fair drop). */
static inline int sl_fair_admit(const struct sl_fair_look *l, uint64_t units)
{
	return l->backlog == 0 || l->backlog + (units << SL_FAIR_SHIFT) <= l->share;
}

/* The frame was taken at now and leaves at depart > now: its flow has it waiting too. */
static inline void sl_fair_note(struct sl_fair *f, const struct sl_fair_look *l, uint64_t now,
				uint64_t depart, uint64_t units)
{
	struct sl_fair_slot *s = &f->s[l->slot];

	s->d0 = !l->backlog ? depart : (int64_t)(s->d0 - now) > 0 ? s->d0 : now;
	s->b = l->backlog + (units << SL_FAIR_SHIFT);	/* units < 2^20: no wrap */
	s->b = s->b < SL_FAIR_CAP ? s->b : SL_FAIR_CAP;
	s->d = depart;
	s->sig = l->sig;
	__atomic_fetch_or(&f->active, 1ull << l->slot, __ATOMIC_RELAXED);
}

#endif
