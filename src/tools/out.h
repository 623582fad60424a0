/* out.h -- mmfsctl's output conventions: exit codes, error lines, escaping
 * of names and values, and byte counts for people.
 *
 * Every failure reaches the user as exactly one line on stderr,
 * "mmfsctl: WHAT: reason", and an exit code: OUT_FAIL for anything about
 * the arena or the system, OUT_USAGE for a bad command line.
 */
#ifndef MMFSCTL_OUT_H
#define MMFSCTL_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum out_exit {
	OUT_OK = 0,
	OUT_FAIL = 1,           /* damaged, foreign, missing, busy ... */
	OUT_USAGE = 2,          /* bad command line */
};

#define OUT_PROG "mmfsctl"
#define OUT_HUMAN_LEN 32

/* "mmfsctl: what: message" on stderr; what may be NULL. */
void out_err(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A usage error: the message, then a hint to --help.  Returns OUT_USAGE. */
int out_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum out_escape_flags {
	OUT_ESC_QUOTE = 1 << 0,   /* escape '"' too (a quoted value) */
	OUT_ESC_BINARY = 1 << 1,  /* escape bytes >= 0x80 too (not a name) */
};

/* Write len bytes with C escapes (\\, \n, \t, \r, \xNN) for backslash,
 * control bytes, DEL and bytes that are not well-formed UTF-8: the output
 * is valid UTF-8 and one line.  Flags escape more. */
void out_escape(FILE *f, const void *buf, size_t len, unsigned flags);

/* "64.0 MiB": bytes in binary units, into buf (OUT_HUMAN_LEN bytes). */
const char *out_human(uint64_t bytes, char *buf);

#endif
