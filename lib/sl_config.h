/* sl_config.h - the policy file as the operator wrote it, validated: YAML (libyaml document
 * API, for line marks) -> struct sl_config. Control path only; every problem is reported. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "sl_diag.h"
#include "sl_mem.h"

#define SL_SCHEMA_VERSION 1
#define SL_MAX_BUCKETS 4	/* rate/burst + up to 3 extra limits */
/* largest max-keys (and table of flows): a key table's 4-byte index slots hold an entry
 * index of up to 26 bits and at least 6 signature bits (lib/sl_table.h) */
#define SL_KEYS_MAX (1ull << 26)
#define SL_NAME_MAX 64		/* profile and tenant names: [A-Za-z0-9_.-], 1..63 chars */

enum sl_mode { SL_MODE_SHARED, SL_MODE_DEDICATED, SL_MODE_COUNT };
enum sl_keykind { SL_KEY_SRC_IP, SL_KEY_DST_IP, SL_KEY_5TUPLE, SL_KEY_COUNT };
enum sl_unit { SL_UNIT_BITS, SL_UNIT_PACKETS, SL_UNIT_COUNT };	/* byte-mode buckets count bits */
enum sl_action { SL_ACT_DROP, SL_ACT_MARK, SL_ACT_PASS, SL_ACT_SHAPE, SL_ACT_COUNT };
enum sl_when_full { SL_FULL_SHARED, SL_FULL_PASS, SL_FULL_DROP, SL_FULL_COUNT };
enum sl_fair_mode { SL_FAIR_NONE, SL_FAIR_FLOWS, SL_FAIR_COUNT };

/*
 * One token bucket as a rational rate: `amount` tokens every `per_ns` nanoseconds, capacity
 * `burst` tokens. Tokens are bits (SL_UNIT_BITS: a frame of L bytes costs 8*L) or packets
 * (a frame costs 1). Examples: "rate: 8mbit" -> {8000000, 1e9}; "0.5pps" -> {5, 1e10};
 * "{limit: 5MB, per: 1m}" -> {40000000, 6e10, burst 40000000}.
 * Bounds enforced by validation: 1 <= amount <= 2^50, 1 <= per_ns <= 2^50 (about 13 days),
 * 1 <= burst <= 2^50.
 */
struct sl_cfg_bucket {
	uint64_t amount;
	uint64_t per_ns;
	uint64_t burst;
};

struct sl_cfg_profile {
	char name[SL_NAME_MAX];
	unsigned line;			/* line of the profile's key in the file */
	enum sl_mode mode;
	enum sl_keykind key;		/* dedicated only (default src-ip) */
	enum sl_unit unit;		/* from the rate's unit; burst and limits must agree */
	enum sl_action exceed;
	uint8_t dscp;			/* 0..63, required with exceed: mark */
	unsigned nb_buckets;		/* 1 + number of limits */
	struct sl_cfg_bucket b[SL_MAX_BUCKETS];	/* b[0] = rate/burst */
	/* dedicated only */
	uint64_t idle_ns;		/* "idle: 60s" (default 60s): evict a full, untouched key */
	uint64_t max_keys;		/* "max-keys: N"; 0 = take the appliance's --max-keys */
	enum sl_when_full when_full;	/* "when-full: shared|pass|drop" (default shared) */
	/* both modes (issue 6) */
	uint64_t max_flows;		/* "max-flows: N": concurrent flows per tenant/key; 0 = no cap */
	uint64_t flow_idle_ns;		/* "flow-idle: 30s" (default 30s): a flow idle this long ends */
	uint64_t max_queue;		/* "max-queue: N": frames queued to workers at once; 0 = no cap */
	/* exceed: shape only (sl_cfg_shape_debt says what they give each bucket) */
	uint64_t max_delay_ns;		/* "max-delay: 20ms": longest wait (default: see below) */
	uint64_t queue;			/* "queue: 64KB | 100pkt": most tokens waiting; 0 = no cap */
	enum sl_fair_mode fair;		/* "fair: flows | none" (shared: default flows; sl_fair.h) */
};

/*
 * exceed: shape. A frame that does not fit its buckets waits until they would hold its cost,
 * in arrival order, unless it would wait longer than max-delay (or the tokens waiting would
 * pass `queue`): then it is dropped at once. Each bucket may therefore run into a debt of at
 * most min(rate x max-delay, queue) tokens (sl_cfg_shape_debt), and a frame waits until every
 * bucket's debt is paid. Default max-delay: the time 8 frames of 1514 bytes (8 packets in
 * packet mode) take at the rate, at least 20 ms, at most SL_SHAPE_MAX_DELAY_NS.
 */
#define SL_SHAPE_MAX_DELAY_NS 1000000000ull	/* 1 s: the timing wheels' horizon */
#define SL_SHAPE_MIN_DELAY_NS 1000ull		/* 1 us */
#define SL_SHAPE_DEFAULT_DELAY_NS 20000000ull	/* 20 ms */

/* Tokens bucket b of profile p may owe (exceed: shape), a whole number. */
uint64_t sl_cfg_shape_debt(const struct sl_cfg_profile *p, unsigned b);
/* The default max-delay of a shaped profile of rate b0 and unit. */
uint64_t sl_cfg_shape_default_delay(const struct sl_cfg_bucket *b0, enum sl_unit unit);

/* sl_cfg_match.fields */
#define SL_M_VLAN 0x01
#define SL_M_SRC 0x02
#define SL_M_DST 0x04
#define SL_M_PROTO 0x08
#define SL_M_SPORT 0x10
#define SL_M_DPORT 0x20
#define SL_M_INNER_VLAN 0x40
#define SL_M_PORT 0x80

/* One match block: every field given must hold; a tenant matches when any of its blocks does. */
struct sl_cfg_match {
	uint32_t fields;		/* SL_M_*; 0 = match everything */
	unsigned line;			/* line of the block in the file */
	uint16_t vlan;			/* outer VLAN ID 0..4095 (the S-tag of QinQ) */
	uint16_t inner_vlan;		/* inner VLAN ID 0..4095 of QinQ (the C-tag) */
	uint16_t port;			/* the DPDK port the frame came in on */
	uint8_t family;			/* 4 or 6 when SL_M_SRC/SL_M_DST; both must agree */
	uint8_t proto;			/* tcp=6 udp=17 icmp=1 (icmp with family 6 means 58) or N */
	uint8_t src[16];		/* network order, host bits zeroed; IPv4 in bytes 0..3 */
	uint8_t dst[16];
	uint8_t src_len;		/* prefix length: 0..32 or 0..128 */
	uint8_t dst_len;
	uint16_t sport_lo, sport_hi;	/* inclusive; "N" -> N..N */
	uint16_t dport_lo, dport_hi;
};

struct sl_cfg_tenant {
	char name[SL_NAME_MAX];
	unsigned line;
	unsigned profile;		/* index into sl_config.profiles */
	unsigned match;			/* its blocks: sl_config.matches[match .. match + nb_match) */
	unsigned nb_match;		/* >= 1 */
};

struct sl_config {
	char *path;			/* as given to sl_config_load (owned) */
	enum sl_action unmatched;	/* SL_ACT_PASS or SL_ACT_DROP */
	unsigned nb_profiles;
	struct sl_cfg_profile *profiles;	/* file order */
	unsigned nb_tenants;
	struct sl_cfg_tenant *tenants;	/* file order = match order */
	unsigned nb_matches;
	struct sl_cfg_match *matches;	/* every tenant's blocks, in tenant order */
};

/* Block i (0 <= i < t->nb_match) of tenant t of c. */
static inline const struct sl_cfg_match *sl_cfg_tenant_match(const struct sl_config *c,
							      const struct sl_cfg_tenant *t,
							      unsigned i)
{
	return &c->matches[t->match + i];
}

/*
 * Parse and validate. On success returns 0 and *out (free with sl_config_free).
 * On failure returns -EINVAL (or -errno for I/O) with one message per problem in d, each
 * "file:line: field: what was expected"; nothing is returned in *out.
 */
int sl_config_load(const char *path, struct sl_config **out, struct sl_diag *d);
/* Same, from memory; `name` is used as the file name in messages. */
int sl_config_parse(const char *name, const char *text, size_t len, struct sl_config **out,
		    struct sl_diag *d);
void sl_config_free(struct sl_config *c);
/* Bytes sl_config_load may allocate at most for a file of `file_bytes` (libyaml's document
 * of it, measured at about 25 times its size, and the config), before it is read. */
uint64_t sl_config_load_bytes(uint64_t file_bytes);
/* Before sl_config_load: 0 when parsing the file at path fits the memory the process may still
 * take (sl_mem_admit with probe, NULL: sl_mem_read), else -ENOMEM with a message in d; 0 when
 * the file cannot be stat'ed (the load reports it). */
int sl_config_admit(const char *path, sl_mem_probe_fn probe, void *arg, struct sl_diag *d);

/* Index of the profile / tenant called name, or -1. */
int sl_config_profile_index(const struct sl_config *c, const char *name);
int sl_config_tenant_index(const struct sl_config *c, const char *name);

/* Names for enums (for reports and --check): "shared", "src-ip", "drop", ... */
const char *sl_mode_name(enum sl_mode m);
const char *sl_keykind_name(enum sl_keykind k);
const char *sl_action_name(enum sl_action a);
const char *sl_when_full_name(enum sl_when_full w);
const char *sl_fair_name(enum sl_fair_mode f);

#endif
