/* sl_classify.c - compile tenant matches from the config into masks and ranges. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sl_classify.h"

static void prefix_mask(uint8_t len, uint64_t mask[2])
{
	uint8_t b[16] = {0};

	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;

		b[i] = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
	}
	memcpy(mask, b, 16);
}

static void compile_one(const struct sl_cfg_match *cm, struct sl_match *m)
{
	memset(m, 0, sizeof(*m));
	m->fields = cm->fields;
	m->vlan = cm->vlan;
	m->proto = cm->proto;
	m->family = cm->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4;
	prefix_mask(cm->src_len, m->src_mask);
	prefix_mask(cm->dst_len, m->dst_mask);
	memcpy(m->src, cm->src, 16);
	memcpy(m->dst, cm->dst, 16);
	for (unsigned i = 0; i < 2; i++) {
		m->src[i] &= m->src_mask[i];
		m->dst[i] &= m->dst_mask[i];
	}
	/* a port range not given matches every port (when the other one is given) */
	m->sport_lo = cm->fields & SL_M_SPORT ? cm->sport_lo : 0;
	m->sport_hi = cm->fields & SL_M_SPORT ? cm->sport_hi : 0xffff;
	m->dport_lo = cm->fields & SL_M_DPORT ? cm->dport_lo : 0;
	m->dport_hi = cm->fields & SL_M_DPORT ? cm->dport_hi : 0xffff;
}

int sl_classifier_build(const struct sl_config *cfg, struct sl_classifier *out)
{
	out->nb = cfg->nb_tenants;
	out->m = calloc(cfg->nb_tenants ? cfg->nb_tenants : 1, sizeof(*out->m));
	if (!out->m)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->nb_tenants; i++)
		compile_one(&cfg->tenants[i].m, &out->m[i]);
	out->first_all = out->nb && !out->m[0].fields;
	return 0;
}

void sl_classifier_free(struct sl_classifier *c)
{
	free(c->m);
	c->m = NULL;
	c->nb = 0;
	c->first_all = 0;
}
