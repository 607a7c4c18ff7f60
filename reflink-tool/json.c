// SPDX-License-Identifier: MIT
/*
 * A small streaming JSON writer: nesting, commas and string escaping
 * (RFC 8259: quote, backslash and control characters; bytes >= 0x80 pass
 * through, and invalid UTF-8 in file names is escaped as \u00XX so the
 * output always parses).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reflink_priv.h"

struct rl_json *rl_json_new(FILE *f)
{
	struct rl_json *js = xcalloc(1, sizeof(*js));

	js->f = f;
	return js;
}

void rl_json_free(struct rl_json *js)
{
	if (!js)
		return;
	fputc('\n', js->f);
	fflush(js->f);
	free(js);
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static void put_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', f);
	while (*s) {
		if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s == '\n') {
			fputs("\\n", f), s++;
		} else if (*s == '\t') {
			fputs("\\t", f), s++;
		} else if (*s == '\r') {
			fputs("\\r", f), s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			fputc(*s++, f);
		} else if ((n = utf8_len(s))) {
			fwrite(s, 1, n, f);
			s += n;
		} else {
			fprintf(f, "\\u%04x", *s++);
		}
	}
	fputc('"', f);
}

static void prefix(struct rl_json *js, const char *key)
{
	if (js->need_comma[js->depth])
		fputc(',', js->f);
	js->need_comma[js->depth] = true;
	if (js->depth) {
		fputc('\n', js->f);
		fprintf(js->f, "%*s", 2 * js->depth, "");
	}
	if (key) {
		put_string(js->f, key);
		fputs(": ", js->f);
	}
}

static void open_(struct rl_json *js, const char *key, char c)
{
	prefix(js, key);
	fputc(c, js->f);
	if (js->depth + 1 < (int)(sizeof(js->need_comma) / sizeof(js->need_comma[0])))
		js->depth++;
	js->need_comma[js->depth] = false;
}

static void close_(struct rl_json *js, char c)
{
	bool had = js->need_comma[js->depth];

	if (js->depth)
		js->depth--;
	if (had) {
		fputc('\n', js->f);
		fprintf(js->f, "%*s", 2 * js->depth, "");
	}
	fputc(c, js->f);
}

void rl_json_obj_begin(struct rl_json *js, const char *key) { open_(js, key, '{'); }
void rl_json_obj_end(struct rl_json *js) { close_(js, '}'); }
void rl_json_arr_begin(struct rl_json *js, const char *key) { open_(js, key, '['); }
void rl_json_arr_end(struct rl_json *js) { close_(js, ']'); }

void rl_json_str(struct rl_json *js, const char *key, const char *val)
{
	prefix(js, key);
	if (val)
		put_string(js->f, val);
	else
		fputs("null", js->f);
}

void rl_json_u64(struct rl_json *js, const char *key, uint64_t val)
{
	prefix(js, key);
	fprintf(js->f, "%llu", (unsigned long long)val);
}

void rl_json_i64(struct rl_json *js, const char *key, int64_t val)
{
	prefix(js, key);
	fprintf(js->f, "%lld", (long long)val);
}

void rl_json_bool(struct rl_json *js, const char *key, bool val)
{
	prefix(js, key);
	fputs(val ? "true" : "false", js->f);
}

void rl_json_double(struct rl_json *js, const char *key, double val)
{
	prefix(js, key);
	/* JSON has no NaN or infinity. */
	if (isfinite(val))
		fprintf(js->f, "%.6f", val);
	else
		fputs("null", js->f);
}

void rl_json_null(struct rl_json *js, const char *key)
{
	prefix(js, key);
	fputs("null", js->f);
}

void rl_json_error(struct rl_json *js, int err)
{
	char buf[256];

	rl_json_str(js, "error", rl_errmsg(err, "remap", buf, sizeof(buf)));
	rl_json_str(js, "errno", rl_errname(err));
}
