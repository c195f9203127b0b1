/* gen_frames.c - writes the hand-made seeds of fuzz_frames (input format: fuzz_frames.c) into
 * DIR: bursts of frames for every tenant of its policies (IPv4/IPv6, TCP/UDP/ICMP/GRE, VLAN,
 * QinQ, inner VLAN, ports 0-3, fragments, options, extension headers, TCP SYN/FIN/RST), non-IP
 * and truncated frames, on every engine and path, with reloads and maintenance between calls.
 *   fuzz_gen_frames tests/fuzz/corpus/frames
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pkt_build.h"

#define SEED_MAX 65536

struct seed {
	uint8_t b[SEED_MAX];
	size_t len;
};

static void put(struct seed *s, uint8_t v)
{
	if (s->len < SEED_MAX)
		s->b[s->len++] = v;
}

/* A burst header: b0 (time step and calls), frames - 1 and budget, port. */
static void burst(struct seed *s, uint8_t b0, unsigned nframes, uint8_t budget, uint8_t port)
{
	put(s, b0);
	put(s, (uint8_t)((nframes - 1) | budget << 6));
	put(s, port);
}

/* Frame f cut to caplen bytes (0: whole), flags (bit 14: +1500, bit 15: +65536 on the wire). */
static void frame(struct seed *s, const struct pb *f, uint32_t caplen, uint16_t flags)
{
	uint32_t n = caplen && caplen < f->len ? caplen : f->len;

	put(s, (uint8_t)((n >> 8) | flags >> 8));
	put(s, (uint8_t)n);
	for (uint32_t i = 0; i < n; i++)
		put(s, f->b[i]);
}

static const uint8_t v6_db8[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
static const uint8_t v6_web[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
static const uint8_t v6_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t v6_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t v6_other[16] = {0x20, 0x01, 0x0d, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};

static void udp4(struct pb *f, int vlan, int inner, uint32_t src, uint32_t dst, uint16_t sport,
		 uint16_t dport, uint16_t pay)
{
	uint32_t l3;

	pb_l2(f, vlan, inner, 0x0800);
	l3 = pb_ipv4(f, 0, 0, 17, src, dst, 0);
	pb_udp(f, sport, dport, pay);
	pb_ipv4_fin(f, l3, 0);
}

static void tcp4(struct pb *f, int vlan, uint32_t src, uint32_t dst, uint16_t sport,
		 uint16_t dport, uint8_t flags, uint32_t optlen)
{
	uint32_t l3;

	pb_l2(f, vlan, -1, 0x0800);
	l3 = pb_ipv4(f, 0x03, 0, 6, src, dst, optlen);
	pb_tcp(f, sport, dport, flags);
	pb_fill(f, 0x11, 20);
	pb_ipv4_fin(f, l3, 0);
}

static void proto4(struct pb *f, int vlan, uint32_t src, uint32_t dst, uint8_t proto,
		   uint16_t frag)
{
	uint32_t l3;

	pb_l2(f, vlan, -1, 0x0800);
	l3 = pb_ipv4(f, 0, frag, proto, src, dst, 0);
	if (proto == 1)
		pb_icmp(f, 8, 0);
	else if (proto == 17)
		pb_udp(f, 1500, 53, 16);
	else
		pb_fill(f, 0x47, 24);
	pb_ipv4_fin(f, l3, 0);
}

static void tcp6(struct pb *f, int vlan, const uint8_t *src, const uint8_t *dst,
		 uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint32_t l3;

	pb_l2(f, vlan, -1, 0x86dd);
	l3 = pb_ipv6(f, 0x04, 0x12345, 6, src, dst);
	pb_tcp(f, sport, dport, flags);
	pb_ipv6_fin(f, l3, 0);
}

static void udp6_ext(struct pb *f, const uint8_t *src, const uint8_t *dst)
{
	uint32_t l3;

	pb_l2(f, -1, -1, 0x86dd);
	l3 = pb_ipv6(f, 0, 0, 0, src, dst);	/* hop-by-hop, routing, fragment, UDP */
	pb_ext(f, 43, 0);
	pb_ext(f, 44, 1);
	pb_frag6(f, 17, 0, 1);
	pb_udp(f, 4000, 53, 12);
	pb_ipv6_fin(f, l3, 0);
}

static void icmp6(struct pb *f, const uint8_t *src, const uint8_t *dst)
{
	uint32_t l3;

	pb_l2(f, -1, -1, 0x86dd);
	l3 = pb_ipv6(f, 0, 0, 58, src, dst);
	pb_icmp(f, 128, 0);
	pb_ipv6_fin(f, l3, 0);
}

static void ah6(struct pb *f, const uint8_t *src, const uint8_t *dst)
{
	uint32_t l3;

	pb_l2(f, -1, -1, 0x86dd);
	l3 = pb_ipv6(f, 0, 0, 51, src, dst);
	pb_ah(f, 6, 4);
	pb_tcp(f, 5555, 80, 0x02);
	pb_ipv6_fin(f, l3, 0);
}

static void arp(struct pb *f)
{
	pb_l2(f, -1, -1, 0x0806);
	pb_fill(f, 0xaa, 28);
}

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* The frames of one burst for every tenant of policies A and B (fuzz_frames.c); on port 0. */
static unsigned tenant_frames(struct pb *f)
{
	unsigned n = 0;

	udp4(&f[n++], 100, 7, IP4(172, 16, 0, 1), IP4(172, 16, 0, 2), 7, 7, 40);	/* qinq */
	udp4(&f[n++], 200, 8, IP4(172, 16, 0, 3), IP4(172, 16, 0, 2), 7, 7, 40);	/* inner */
	udp4(&f[n++], 10, -1, IP4(172, 16, 1, 1), IP4(8, 8, 8, 8), 4444, 443, 900);	/* vlan10 */
	tcp6(&f[n++], -1, v6_other, v6_web, 40000, 85, 0x02);			/* v6-web SYN */
	tcp6(&f[n++], -1, v6_other, v6_web, 40000, 85, 0x10);
	tcp6(&f[n++], -1, v6_other, v6_web, 40000, 85, 0x01);			/* FIN */
	udp4(&f[n++], -1, -1, IP4(10, 0, 0, 9), IP4(9, 9, 9, 9), 1234, 53, 30);	/* v4-dns */
	udp4(&f[n++], -1, -1, IP4(192, 168, 3, 4), IP4(1, 1, 1, 1), 9, 9, 200);	/* multi */
	proto4(&f[n++], -1, IP4(1, 2, 3, 4), IP4(192, 0, 2, 7), 1, 0);		/* multi icmp */
	icmp6(&f[n++], v6_ll, v6_db8);						/* multi icmp6 */
	udp4(&f[n++], 20, -1, IP4(1, 2, 3, 4), IP4(10, 9, 1, 1), 9, 9, 100);	/* multi vlan */
	proto4(&f[n++], -1, IP4(1, 2, 3, 4), IP4(198, 51, 100, 1), 47, 0);		/* gre */
	tcp6(&f[n++], -1, v6_lo, v6_lo, 1, 2, 0x04);				/* loop6 RST */
	tcp4(&f[n++], -1, IP4(10, 1, 2, 3), IP4(10, 3, 2, 1), 5000, 22, 0x02, 0);	/* v4-host */
	udp4(&f[n++], 0, -1, IP4(5, 5, 5, 5), IP4(6, 6, 6, 6), 1, 2, 10);		/* vlan 0 */
	udp4(&f[n++], -1, -1, IP4(7, 7, 7, 7), IP4(6, 6, 6, 6), 1, 10, 10);	/* all / new */
	tcp4(&f[n++], -1, IP4(7, 7, 7, 8), IP4(6, 6, 6, 6), 80, 8080, 0x18, 8);	/* options */
	proto4(&f[n++], -1, IP4(10, 0, 0, 1), IP4(9, 9, 9, 9), 17, 0x2000);	/* first frag */
	proto4(&f[n++], -1, IP4(10, 0, 0, 1), IP4(9, 9, 9, 9), 17, 0x0005);	/* later frag */
	udp6_ext(&f[n++], v6_db8, v6_other);
	ah6(&f[n++], v6_other, v6_web);
	arp(&f[n++]);
	return n;
}

/* Frames cut inside every header: Ethernet, tag, IPv4, options, IPv6, extension, ports. */
static void truncated(struct seed *s)
{
	struct pb f;

	burst(s, 0x02, 12, 0, 0);
	tcp4(&f, 10, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1, 2, 0x02, 8);
	frame(s, &f, 13, 0);
	frame(s, &f, 16, 0);
	frame(s, &f, 30, 0);
	frame(s, &f, 45, 0);	/* inside the options */
	frame(s, &f, 55, 0x4000);	/* inside the ports */
	udp4(&f, 100, 7, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1000, 53, 8);
	frame(s, &f, 20, 0);	/* inside the inner tag */
	udp6_ext(&f, v6_db8, v6_other);
	frame(s, &f, 40, 0);
	frame(s, &f, 60, 0);	/* inside the extension headers */
	frame(s, &f, 110, 0x8000);
	frame(s, &f, 1, 0);
	put(s, 0);		/* an empty frame */
	put(s, 0);
	frame(s, &f, 0, 0xc000);	/* whole, 1500 + 65536 more on the wire */
}

static void write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *o;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	o = fopen(path, "wb");
	if (!o || fwrite(s->b, 1, s->len, o) != s->len || fclose(o)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static struct seed s;
	static struct pb f[64];
	unsigned n = tenant_frames(f);
	char name[64];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* every engine, each on two paths: three bursts of every tenant's frames */
	for (unsigned e = 0; e < 8; e++)
		for (unsigned k = 0; k < 2; k++) {
			unsigned path = (e + 2 * k) & 3;

			s.len = 0;
			put(&s, (uint8_t)(e | path << 5 | (e & 1) << 3));
			for (unsigned b = 0; b < 3; b++) {
				burst(&s, (uint8_t)(4 | (b == 1 ? 0x80 : 0)), n, 0, (uint8_t)b);
				for (unsigned i = 0; i < n; i++)
					frame(&s, &f[i], 0, 0);
			}
			snprintf(name, sizeof(name), "engine%u-path%u", e, path);
			write_seed(argv[1], name, &s);
		}
	/* policy A pipelined: maintenance before probe and finish, reloads to B and back, a
	 * profile changed, long gaps (keys evicted), ports 1 and 2 */
	s.len = 0;
	put(&s, 2 << 5);
	for (unsigned b = 0; b < 8; b++) {
		static const uint8_t b0[8] = {0x04, 0x0c, 0x34, 0x14, 0x27, 0x5c, 0x06, 0x3d};

		burst(&s, b0[b], n, (uint8_t)(b & 3), (uint8_t)(b % 3 + (b == 5 ? 0x94 : 0)));
		for (unsigned i = 0; i < n; i++)
			frame(&s, &f[i], 0, i == 3 ? 0x4000 : 0);
	}
	write_seed(argv[1], "reloads-pipelined", &s);
	/* the same sequentially, with decisions, on two lcores, counters checked each burst */
	s.b[0] = 1 | 1 << 5 | 0x80;
	write_seed(argv[1], "reloads-sequential", &s);
	/* truncated frames on each policy */
	for (unsigned e = 0; e < 8; e += 2) {
		s.len = 0;
		put(&s, (uint8_t)(e | (e / 2) << 5));
		truncated(&s);
		snprintf(name, sizeof(name), "truncated-engine%u", e);
		write_seed(argv[1], name, &s);
	}
	/* one full burst of 64 frames of one flow, and a clock starting near 2^56 */
	s.len = 0;
	put(&s, 4 | 0x10 | 0x08);
	burst(&s, 0x01, 64, 0, 0);
	for (unsigned i = 0; i < 64; i++)
		frame(&s, &f[7], 0, 0);
	write_seed(argv[1], "full-burst", &s);
	return 0;
}
