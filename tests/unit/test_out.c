/* test_out.c -- mmfsctl's escaping of names and values, and byte counts
 * for people (src/tools/out.c).
 *
 * out_escape must print any bytes as one line of valid UTF-8 from which
 * the bytes can be read back.  Checked on examples (escapes, UTF-8 at the
 * edges of each length, every kind of malformed sequence, the flags), then
 * as properties over every input of one and two bytes and many longer
 * ones: the output has no control byte, is valid UTF-8 by a decoder
 * written here, and unescapes back to the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "unit.h"

/* out_escape into a malloc'd string; *n is its length. */
static char *escape(const void *in, size_t len, unsigned flags, size_t *n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		abort();
	out_escape(f, in, len, flags);
	if (fclose(f))
		abort();
	*n = size;
	return buf;
}

static void check_escape(const char *in, size_t len, unsigned flags,
			 const char *want)
{
	size_t n;
	char *got = escape(in, len, flags, &n);

	CHECK(n == strlen(want) && memcmp(got, want, n) == 0,
	      "escape of %zu bytes (flags %u): got \"%s\", want \"%s\"", len,
	      flags, got, want);
	free(got);
}

#define ESC(in, flags, want) check_escape(in, sizeof(in) - 1, flags, want)

static void test_examples(void)
{
	ESC("", 0, "");
	ESC("plain-name_1.txt", 0, "plain-name_1.txt");
	ESC("a b~", 0, "a b~");
	ESC("back\\slash", 0, "back\\\\slash");
	ESC("\n\t\r", 0, "\\n\\t\\r");
	ESC("say \"hi\"", 0, "say \"hi\"");
	ESC("say \"hi\"", OUT_ESC_QUOTE, "say \\\"hi\\\"");
	/* other control bytes and DEL, NUL included */
	ESC("\0", 0, "\\x00");
	ESC("a\0b", 0, "a\\x00b");
	ESC("\x01\x1b\x1f\x7f", 0, "\\x01\\x1b\\x1f\\x7f");
	/* well-formed UTF-8 passes, at the edges of each length */
	ESC("\xc2\x80", 0, "\xc2\x80");                 /* U+0080 */
	ESC("\xdf\xbf", 0, "\xdf\xbf");                 /* U+07FF */
	ESC("\xe0\xa0\x80", 0, "\xe0\xa0\x80");         /* U+0800 */
	ESC("\xed\x9f\xbf", 0, "\xed\x9f\xbf");         /* U+D7FF */
	ESC("\xee\x80\x80", 0, "\xee\x80\x80");         /* U+E000 */
	ESC("\xef\xbf\xbf", 0, "\xef\xbf\xbf");         /* U+FFFF */
	ESC("\xf0\x90\x80\x80", 0, "\xf0\x90\x80\x80"); /* U+10000 */
	ESC("\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
	ESC("caf\xc3\xa9 \xe2\x82\xac", 0, "caf\xc3\xa9 \xe2\x82\xac");
	/* ... unless the value is binary */
	ESC("caf\xc3\xa9", OUT_ESC_BINARY, "caf\\xc3\\xa9");
	/* malformed: overlong, surrogates, past U+10FFFF, stray or missing
	 * continuation bytes, bytes that never start a sequence */
	ESC("\xc0\x80", 0, "\\xc0\\x80");
	ESC("\xc1\xbf", 0, "\\xc1\\xbf");
	ESC("\xe0\x9f\xbf", 0, "\\xe0\\x9f\\xbf");
	ESC("\xf0\x8f\xbf\xbf", 0, "\\xf0\\x8f\\xbf\\xbf");
	ESC("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");      /* U+D800 */
	ESC("\xed\xbf\xbf", 0, "\\xed\\xbf\\xbf");      /* U+DFFF */
	ESC("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80");
	ESC("\xf5\x80\x80\x80", 0, "\\xf5\\x80\\x80\\x80");
	ESC("\xff\xfe", 0, "\\xff\\xfe");
	ESC("\x80", 0, "\\x80");
	ESC("\xbf\xc3\xa9", 0, "\\xbf\xc3\xa9");
	ESC("\xc3", 0, "\\xc3");
	ESC("\xc3" "A", 0, "\\xc3A");
	ESC("\xe2\x82", 0, "\\xe2\\x82");
	ESC("\xe2\x82" "A", 0, "\\xe2\\x82A");
	ESC("\xe2" "A\xac", 0, "\\xe2A\\xac");
	ESC("\xf0\x9f\x98", 0, "\\xf0\\x9f\\x98");
	ESC("\xf0\x9f\x98\x80\x80", 0, "\xf0\x9f\x98\x80\\x80");
	/* len bounds the input: a sequence cut by it is not well-formed */
	check_escape("\xc3\xa9", 1, 0, "\\xc3");
	check_escape("ab\ncd", 2, 0, "ab");
}

/* --- properties ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (RFC 3629), else 0. */
static size_t utf8_valid(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo out_escape; the length of the bytes in out, or -1 if the text is
 * not something out_escape writes. */
static long unescape(const char *s, size_t n, unsigned flags,
		     unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			if (s[i] == '"' && (flags & OUT_ESC_QUOTE))
				return -1;
			out[o++] = (unsigned char)s[i];
			continue;
		}
		if (++i == n)
			return -1;
		switch (s[i]) {
		case '\\': out[o++] = '\\'; break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case '"':
			if (!(flags & OUT_ESC_QUOTE))
				return -1;
			out[o++] = '"';
			break;
		case 'x':
			if (i + 2 >= n || hexval(s[i + 1]) < 0 ||
			    hexval(s[i + 2]) < 0)
				return -1;
			out[o++] = (unsigned char)(hexval(s[i + 1]) << 4 |
						   hexval(s[i + 2]));
			i += 2;
			break;
		default:
			return -1;
		}
	}
	return (long)o;
}

/* One input: the output is one line of printable ASCII and valid UTF-8
 * (only ASCII with OUT_ESC_BINARY), and reads back as the input. */
static void check_property(const unsigned char *in, size_t len,
			   unsigned flags)
{
	size_t n;
	char *out = escape(in, len, flags, &n);
	const unsigned char *u = (const unsigned char *)out;
	unsigned char *back = malloc(n + 1);
	long got;

	if (!back)
		abort();
	for (size_t i = 0; i < n;) {
		size_t step = utf8_valid(u + i, n - i);

		if (step == 0 || u[i] < 0x20 || u[i] == 0x7f ||
		    (step > 1 && (flags & OUT_ESC_BINARY))) {
			CHECK(0, "escape of %02x %02x.. (%zu bytes, flags %u) "
			      "wrote byte %02x at %zu", len ? in[0] : 0,
			      len > 1 ? in[1] : 0, len, flags, u[i], i);
			break;
		}
		i += step;
	}
	got = unescape(out, n, flags, back);
	CHECK(got == (long)len && memcmp(back, in, len) == 0,
	      "escape of %02x %02x.. (%zu bytes, flags %u) reads back as "
	      "%ld other bytes", len ? in[0] : 0, len > 1 ? in[1] : 0, len,
	      flags, got);
	free(back);
	free(out);
}

static void test_properties(void)
{
	static const unsigned flags[] = {
		0, OUT_ESC_QUOTE, OUT_ESC_BINARY,
		OUT_ESC_QUOTE | OUT_ESC_BINARY,
	};
	unsigned char in[16];
	unsigned seed = 1;

	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		int before = unit_failures;

		for (unsigned v = 0; v < 65536 && unit_failures == before;
		     v++) {
			in[0] = (unsigned char)(v >> 8);
			in[1] = (unsigned char)v;
			check_property(in, 1, flags[f]);
			check_property(in, 2, flags[f]);
		}
		/* longer inputs, biased to bytes that start or continue
		 * UTF-8 sequences */
		for (int k = 0; k < 200000 && unit_failures == before; k++) {
			size_t len = (size_t)(rand_r(&seed) % sizeof(in));

			for (size_t i = 0; i < len; i++) {
				unsigned r = (unsigned)rand_r(&seed);

				in[i] = (unsigned char)(r % 3 == 0 ? 0x80 |
							(r >> 8) % 64 :
							r % 3 == 1 ? 0xc0 |
							(r >> 8) % 64 :
							(r >> 8));
			}
			check_property(in, len, flags[f]);
		}
	}
}

static void test_human(void)
{
	static const struct {
		uint64_t bytes;
		const char *want;
	} cases[] = {
		{ 0, "0 bytes" },
		{ 1, "1 bytes" },
		{ 1023, "1023 bytes" },
		{ 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" },
		{ 64ULL << 20, "64.0 MiB" },
		{ (1ULL << 30) - 1, "1024.0 MiB" },
		{ 5ULL << 40, "5.0 TiB" },
		{ 1ULL << 50, "1.0 PiB" },
		{ 1ULL << 60, "1.0 EiB" },
		{ UINT64_MAX, "16.0 EiB" },
	};
	char buf[OUT_HUMAN_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = out_human(cases[i].bytes, buf);

		CHECK(got == buf && strcmp(got, cases[i].want) == 0,
		      "out_human(%llu) = \"%s\", want \"%s\"",
		      (unsigned long long)cases[i].bytes, got, cases[i].want);
	}
}

int main(void)
{
	test_examples();
	test_properties();
	test_human();
	return unit_exit("test_out");
}
