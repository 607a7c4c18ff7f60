// SPDX-License-Identifier: MIT
/*
 * A small streaming JSON writer to stdout: nesting, commas and string
 * escaping (RFC 8259). Strings come from an untrusted image, so any byte
 * that is not part of valid UTF-8 is written as \u00XX (its Latin-1
 * code point) and the document always parses. 64-bit values that are
 * identifiers (checksums, magics, flags) go out as "0x..." strings, which
 * no reader rounds to a double.
 */
#include <stdio.h>
#include <string.h>
#include "dump.h"

#define JSON_MAX_DEPTH 32

static struct {
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
} js;

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* no overlongs, no surrogates, nothing above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

static void put_string(const void *str, size_t n)
{
	const unsigned char *s = str, *end = s + n;
	size_t len;

	putchar('"');
	while (s < end) {
		if (*s == '"' || *s == '\\') {
			putchar('\\');
			putchar(*s++);
		} else if (*s == '\n') {
			fputs("\\n", stdout), s++;
		} else if (*s == '\t') {
			fputs("\\t", stdout), s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s++);
		} else if (*s < 0x80) {
			putchar(*s++);
		} else if ((len = utf8_len(s, end - s))) {
			fwrite(s, 1, len, stdout);
			s += len;
		} else {
			printf("\\u%04x", *s++);
		}
	}
	putchar('"');
}

static void prefix(const char *key)
{
	if (js.need_comma[js.depth])
		putchar(',');
	js.need_comma[js.depth] = true;
	if (key) {
		put_string(key, strlen(key));
		putchar(':');
	}
}

static void open_(const char *key, char c)
{
	prefix(key);
	putchar(c);
	if (js.depth + 1 >= JSON_MAX_DEPTH)
		die(EXIT_CORRUPT, "internal error: JSON nesting deeper than %d", JSON_MAX_DEPTH);
	js.need_comma[++js.depth] = false;
}

static void close_(char c)
{
	if (js.depth > 0)
		js.depth--;
	putchar(c);
}

void json_obj_begin(const char *key) { open_(key, '{'); }
void json_obj_end(void) { close_('}'); }
void json_arr_begin(const char *key) { open_(key, '['); }
void json_arr_end(void) { close_(']'); }

void json_u64(const char *key, uint64_t v)
{
	prefix(key);
	printf("%llu", (unsigned long long)v);
}

void json_i64(const char *key, int64_t v)
{
	prefix(key);
	printf("%lld", (long long)v);
}

void json_bool(const char *key, bool v)
{
	prefix(key);
	fputs(v ? "true" : "false", stdout);
}

void json_null(const char *key)
{
	prefix(key);
	fputs("null", stdout);
}

void json_str(const char *key, const char *s)
{
	if (!s) {
		json_null(key);
		return;
	}
	json_strn(key, s, strlen(s));
}

void json_strn(const char *key, const void *s, size_t len)
{
	prefix(key);
	put_string(s, len);
}

void json_hex(const char *key, uint64_t v)
{
	prefix(key);
	printf("\"0x%llx\"", (unsigned long long)v);
}

void json_done(void)
{
	putchar('\n');
	js.depth = 0;
	js.need_comma[0] = false;
}

/* Streamed base64: chunks of a multiple of 3 bytes, except the last. */
void json_base64_begin(const char *key)
{
	prefix(key);
	putchar('"');
}

void json_base64_chunk(const void *data, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		putchar(tab[v >> 18]);
		putchar(tab[(v >> 12) & 63]);
		putchar(tab[(v >> 6) & 63]);
		putchar(tab[v & 63]);
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		putchar(tab[v >> 18]);
		putchar(tab[(v >> 12) & 63]);
		putchar(i + 1 < len ? tab[(v >> 6) & 63] : '=');
		putchar('=');
	}
}

void json_base64_end(void)
{
	putchar('"');
}

void json_base64(const char *key, const void *data, size_t len)
{
	json_base64_begin(key);
	json_base64_chunk(data, len);
	json_base64_end();
}
