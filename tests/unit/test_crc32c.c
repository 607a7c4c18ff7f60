// SPDX-License-Identifier: MIT
/*
 * CRC32C: published vectors, the hardware path against the table path
 * and a bit-at-a-time reference over random lengths and alignments,
 * chaining, and the embedded-checksum helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"

static int checks, failures;

#define CHECK(expr) do {						\
	checks++;							\
	if (!(expr)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #expr);			\
	}								\
} while (0)

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Independent of the library's table: one bit at a time from the polynomial. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
	}
	return ~crc;
}

static void test_vectors(void)
{
	uint8_t buf[32];
	int i;

	CHECK(pmcfs_crc32c(0, "123456789", 9) == 0xe3069283);
	CHECK(pmcfs_crc32c_sw(0, "123456789", 9) == 0xe3069283);
	CHECK(pmcfs_crc32c(0, "", 0) == 0);
	CHECK(pmcfs_crc32c(0x12345678, NULL, 0) == 0x12345678);

	/* RFC 3720 (iSCSI) appendix B.4. */
	memset(buf, 0, sizeof(buf));
	CHECK(pmcfs_crc32c(0, buf, 32) == 0x8a9136aa);
	CHECK(pmcfs_crc32c_sw(0, buf, 32) == 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	CHECK(pmcfs_crc32c(0, buf, 32) == 0x62a8ab43);
	CHECK(pmcfs_crc32c_sw(0, buf, 32) == 0x62a8ab43);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CHECK(pmcfs_crc32c(0, buf, 32) == 0x46dd794e);
	CHECK(pmcfs_crc32c_sw(0, buf, 32) == 0x46dd794e);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CHECK(pmcfs_crc32c(0, buf, 32) == 0x113fdb5c);
	CHECK(pmcfs_crc32c_sw(0, buf, 32) == 0x113fdb5c);
}

#define MAXLEN 9000
#define SLACK 64

static void test_random(void)
{
	static uint8_t buf[MAXLEN + SLACK];
	size_t i;
	int iter;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (iter = 0; iter < 3000; iter++) {
		size_t len = rnd() % (MAXLEN + 1);
		size_t off = rnd() % SLACK;
		size_t cut = len ? rnd() % (len + 1) : 0;
		uint32_t seed = iter & 1 ? (uint32_t)rnd() : 0;
		const uint8_t *p = buf + off;
		uint32_t hw = pmcfs_crc32c(seed, p, len);
		uint32_t sw = pmcfs_crc32c_sw(seed, p, len);

		CHECK(hw == sw);
		/* The slow reference on a tenth of the cases is plenty. */
		if (iter % 10 == 0)
			CHECK(sw == crc32c_bitwise(seed, p, len));
		/* Chaining: crc(crc(a), b) == crc(a || b). */
		CHECK(pmcfs_crc32c(pmcfs_crc32c(seed, p, cut), p + cut, len - cut) == hw);
		CHECK(pmcfs_crc32c_sw(pmcfs_crc32c_sw(seed, p, cut), p + cut, len - cut) == hw);
		/* And across the two implementations. */
		CHECK(pmcfs_crc32c(pmcfs_crc32c_sw(seed, p, cut), p + cut, len - cut) == hw);
		if (failures > 20)
			return;
	}
}

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_cksum(void)
{
	static const size_t offs[] = { 0, 4, 124, 2049, 4092 };
	static uint8_t blk[4096], copy[4096];
	size_t i, k;

	for (k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		size_t co = offs[k];
		uint32_t c;

		for (i = 0; i < sizeof(blk); i++)
			blk[i] = (uint8_t)rnd();
		/* The field's content does not matter: it counts as zero. */
		c = pmcfs_cksum(blk, sizeof(blk), co);
		memset(blk + co, 0xa5, 4);
		CHECK(pmcfs_cksum(blk, sizeof(blk), co) == c);
		memcpy(copy, blk, sizeof(copy));
		memset(copy + co, 0, 4);
		CHECK(c == pmcfs_crc32c(0, copy, sizeof(copy)));

		CHECK(!pmcfs_cksum_verify(blk, sizeof(blk), co));
		pmcfs_cksum_update(blk, sizeof(blk), co);
		CHECK(le32_at(blk + co) == c);		/* stored little-endian */
		CHECK(pmcfs_cksum_verify(blk, sizeof(blk), co));

		/* A flipped bit anywhere, checksum field included, is caught. */
		for (i = 0; i < 64; i++) {
			size_t bit = rnd() % (sizeof(blk) * 8);

			if (i == 0)
				bit = co * 8 + 3;
			blk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			CHECK(!pmcfs_cksum_verify(blk, sizeof(blk), co));
			blk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			CHECK(pmcfs_cksum_verify(blk, sizeof(blk), co));
		}
	}

	/* A field that does not fit: no access out of bounds, never "valid". */
	memcpy(copy, blk, sizeof(copy));
	CHECK(!pmcfs_cksum_verify(blk, 3, 0));
	CHECK(!pmcfs_cksum_verify(blk, 128, 125));
	CHECK(!pmcfs_cksum_verify(blk, 128, SIZE_MAX - 1));
	pmcfs_cksum_update(blk, 128, 125);
	pmcfs_cksum_update(blk, 128, SIZE_MAX - 1);
	CHECK(memcmp(copy, blk, sizeof(copy)) == 0);
	CHECK(pmcfs_cksum(blk, 128, 125) == pmcfs_crc32c(0, blk, 128));
}

int main(void)
{
#ifdef __x86_64__
	printf("crc32c: sse4.2 %s\n", __builtin_cpu_supports("sse4.2") ? "yes" : "no");
#endif
	test_vectors();
	test_random();
	test_cksum();
	printf("test_crc32c: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
