/* unit.h -- the checks of the helper unit tests (test_ns, test_mounts,
 * test_out, test_walk, test_opts).
 *
 * CHECK(cond, fmt, ...) names the case it checks: a failure prints
 * "FILE:LINE: case: CHECK(cond) failed", counts, and goes on, so one run
 * lists every broken case.  unit_exit() ends main: 0 when every check
 * passed, 1 otherwise (meson test reports the output).
 */
#ifndef MMFS_TEST_UNIT_H
#define MMFS_TEST_UNIT_H

#include <stdio.h>

static int unit_failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, ": CHECK(%s) failed\n", #cond); \
		unit_failures++; \
	} \
} while (0)

static inline int unit_exit(const char *name)
{
	if (unit_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name,
			unit_failures);
		return 1;
	}
	printf("%s: every check passed\n", name);
	return 0;
}

#endif
