/* out.c -- error lines, escaping and human-readable sizes (see out.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "out.h"

void out_err(const char *what, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(OUT_PROG ": ", stderr);
	if (what)
		fprintf(stderr, "%s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int out_usage(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(OUT_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" OUT_PROG " --help' for more information.\n", stderr);
	return OUT_USAGE;
}

static const char *escape_of(unsigned char c, unsigned flags)
{
	switch (c) {
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\t': return "\\t";
	case '\r': return "\\r";
	case '"': return (flags & OUT_ESC_QUOTE) ? "\\\"" : NULL;
	default: return NULL;
	}
}

static bool cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Length of the well-formed UTF-8 sequence of 2 to 4 bytes at p (no
 * overlong forms, surrogates or code points past U+10FFFF), else 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (!cont(p[i]))
			return 0;
	return len;
}

void out_escape(FILE *f, const void *buf, size_t len, unsigned flags)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		const char *e = escape_of(p[i], flags);
		size_t u = 0;

		if (p[i] >= 0x80 && !(flags & OUT_ESC_BINARY))
			u = utf8_len(p + i, len - i);
		if (e) {
			fputs(e, f);
		} else if (u) {
			fwrite(p + i, 1, u, f);
			i += u - 1;
		} else if (p[i] < 0x20 || p[i] >= 0x7f) {
			fprintf(f, "\\x%02x", p[i]);
		} else {
			fputc(p[i], f);
		}
	}
}

const char *out_human(uint64_t bytes, char *buf)
{
	static const char *const units[] = {
		"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, OUT_HUMAN_LEN, "%llu bytes",
			 (unsigned long long)bytes);
	else
		snprintf(buf, OUT_HUMAN_LEN, "%.1f %s", v, units[u]);
	return buf;
}
