// SPDX-License-Identifier: MIT
/*
 * CRC32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum of
 * every pmcfs metadata block.
 *
 * Convention (as zlib's crc32()): pmcfs_crc32c(crc, buf, len) takes the
 * finished CRC of the bytes so far (0 for none) and returns the finished
 * CRC with buf appended; the ~0 seed and final xor happen inside. So
 * crc32c(crc32c(0, a), b) == crc32c(0, a || b), and "123456789" gives
 * 0xe3069283.
 *
 * x86-64 CPUs with SSE4.2 compute it with the crc32 instruction; every
 * other CPU uses a byte-wise table. The table is built by the
 * preprocessor from the polynomial, so there is nothing to trust and no
 * mutable state.
 */
#include <endian.h>
#include <stdint.h>
#include <string.h>
#include "pmcfs.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_CRC32C_SSE42 1
#endif

#define CRC32C_POLY 0x82f63b78u

/* One bit of a reflected CRC shift register; S8 is one byte's worth. */
#define S1(c) (((c) >> 1) ^ (((c) & 1u) ? CRC32C_POLY : 0u))
#define S2(c) S1(S1(c))
#define S4(c) S2(S2(c))
#define S8(c) S4(S4(c))
#define E(n) S8((uint32_t)(n))
#define R4(n) E(n), E(n + 1), E(n + 2), E(n + 3)
#define R16(n) R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n) R16(n), R16(n + 16), R16(n + 32), R16(n + 48)

static const uint32_t crc32c_table[256] = { R64(0), R64(64), R64(128), R64(192) };

#undef S1
#undef S2
#undef S4
#undef S8
#undef E
#undef R4
#undef R16
#undef R64

/* The raw register update, without seed or final xor. */
static uint32_t crc32c_sw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len--)
		c = (c >> 8) ^ crc32c_table[(c ^ *p++) & 0xff];
	return c;
}

uint32_t pmcfs_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	return ~crc32c_sw_raw(~crc, buf, len);
}

#ifdef HAVE_CRC32C_SSE42
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	uint64_t c64;

	/* Bytes up to an 8-byte boundary, so the main loop loads aligned. */
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8(c, *p++);
		len--;
	}
	c64 = c;
	while (len >= 8) {
		uint64_t v;

		/* memcpy: no aliasing or alignment assumptions for the compiler. */
		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

uint32_t pmcfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_CRC32C_SSE42
	/* libgcc fills the CPU model before main(); this is a load and a test. */
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw_raw(~crc, buf, len);
#endif
	return ~crc32c_sw_raw(~crc, buf, len);
}

/* ---- checksums embedded in a buffer --------------------------------------- */

static bool csum_field_fits(size_t len, size_t csum_off)
{
	return len >= 4 && csum_off <= len - 4;
}

/*
 * A csum_off that does not fit is a caller bug with no error channel in
 * this API: the whole buffer is summed (nothing is read out of bounds),
 * verify reports a mismatch and update writes nothing.
 */
uint32_t pmcfs_cksum(const void *buf, size_t len, size_t csum_off)
{
	static const uint8_t zero[4];
	const uint8_t *p = buf;
	uint32_t crc;

	if (!csum_field_fits(len, csum_off))
		return pmcfs_crc32c(0, buf, len);
	crc = pmcfs_crc32c(0, p, csum_off);
	crc = pmcfs_crc32c(crc, zero, sizeof(zero));
	return pmcfs_crc32c(crc, p + csum_off + 4, len - csum_off - 4);
}

bool pmcfs_cksum_verify(const void *buf, size_t len, size_t csum_off)
{
	uint32_t stored;

	if (!csum_field_fits(len, csum_off))
		return false;
	memcpy(&stored, (const uint8_t *)buf + csum_off, 4);
	return le32toh(stored) == pmcfs_cksum(buf, len, csum_off);
}

void pmcfs_cksum_update(void *buf, size_t len, size_t csum_off)
{
	uint32_t v;

	if (!csum_field_fits(len, csum_off))
		return;
	v = htole32(pmcfs_cksum(buf, len, csum_off));
	memcpy((uint8_t *)buf + csum_off, &v, 4);
}
