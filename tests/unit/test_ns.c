/* test_ns.c -- the name hash of the namespace index (ns_hash, src/store/ns.c).
 *
 * ns_hash(seed, parent, name) picks a dentry's bucket (its low bits) and is
 * stored in the dentry, where lookups compare it: a clean arena is opened
 * without recomputing it, so the function is part of the arena format.
 * Checked here: it is a function of exactly (seed, parent, name bytes);
 * each of the three changes it; every byte value and names up to 255 bytes
 * count; many similar names give no more collisions than chance and fill
 * the buckets evenly; and pinned values catch any change to the function.
 *
 * Uses the store's internals: a struct store whose header holds only the
 * seed is all ns_hash reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "unit.h"

#define NAME_MAX_LEN 255         /* STORE_NAME_MAX */

static struct mm_header header;
static struct store store = { .hdr = &header };

static uint32_t hash(uint64_t seed, uint64_t parent, const void *name,
		     size_t len)
{
	header.hash_seed = seed;
	return ns_hash(&store, parent, name, len);
}

static uint32_t hash_str(uint64_t seed, uint64_t parent, const char *name)
{
	return hash(seed, parent, name, strlen(name));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Equal pairs among n hashes (sorts h). */
static size_t collisions(uint32_t *h, size_t n)
{
	size_t same = 0;

	qsort(h, n, sizeof(*h), cmp_u32);
	for (size_t i = 1; i < n; i++)
		same += h[i] == h[i - 1];
	return same;
}

/* Fullest of nbuckets buckets (a power of two, as in the arena) that the
 * n hashes fall into by their low bits. */
static size_t fullest_bucket(const uint32_t *h, size_t n, size_t nbuckets)
{
	size_t *load = calloc(nbuckets, sizeof(*load)), most = 0;

	if (!load)
		abort();
	for (size_t i = 0; i < n; i++)
		load[h[i] & (nbuckets - 1)]++;
	for (size_t b = 0; b < nbuckets; b++)
		if (load[b] > most)
			most = load[b];
	free(load);
	return most;
}

static const uint64_t seeds[] = {
	0, 1, 0x8000000000000000ULL, 0x0123456789abcdefULL, UINT64_MAX,
};
#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

static void test_deterministic(void)
{
	char buf[16] = "abcXYZ";

	for (size_t i = 0; i < NSEEDS; i++) {
		CHECK(hash_str(seeds[i], 7, "name") ==
		      hash_str(seeds[i], 7, "name"),
		      "same seed, parent and name twice (seed %zu)", i);
		/* only len bytes count: not a terminator, not what follows */
		CHECK(hash(seeds[i], 7, buf, 3) == hash_str(seeds[i], 7, "abc"),
		      "bytes past len are ignored (seed %zu)", i);
	}
	/* the seed is read from the header on every call */
	header.hash_seed = 42;
	uint32_t a = ns_hash(&store, 1, "x", 1);
	header.hash_seed = 43;
	CHECK(ns_hash(&store, 1, "x", 1) != a, "seed read from the header");
}

/* Each input changes the hash: seeds, parents and names that differ a
 * little must not collide. */
static void test_each_input_counts(void)
{
	static const char *const names[] = {
		"", "a", "b", "ab", "ba", "abc", "file", "file1", "file2",
		"File", ".ring", "x.ring",
	};
	enum { N = sizeof(names) / sizeof(names[0]), NPARENTS = 10000 };
	uint32_t h[NSEEDS], *hp = malloc(NPARENTS * sizeof(*hp));

	if (!hp)
		abort();
	for (size_t n = 0; n < N; n++) {
		for (size_t i = 0; i < NSEEDS; i++)
			h[i] = hash_str(seeds[i], 4096, names[n]);
		CHECK(collisions(h, NSEEDS) == 0,
		      "seed changes the hash of \"%s\"", names[n]);
		/* neighbouring parents (inode offsets are 16 apart) */
		for (size_t p = 0; p < NPARENTS; p++)
			hp[p] = hash_str(seeds[3], 4096 + 16 * p, names[n]);
		CHECK(fullest_bucket(hp, NPARENTS, 1024) <= 3 * NPARENTS / 1024,
		      "parents spread over the buckets (\"%s\")", names[n]);
		CHECK(collisions(hp, NPARENTS) <= 2,
		      "%d parents, one name \"%s\"", NPARENTS, names[n]);
	}
	for (size_t i = 0; i < NSEEDS; i++) {
		for (size_t n = 0; n < N; n++)
			hp[n] = hash_str(seeds[i], 0, names[n]);
		CHECK(collisions(hp, N) == 0,
		      "similar names in one directory (seed %zu)", i);
		CHECK(hash_str(seeds[i], 1, "") != hash_str(seeds[i], 2, ""),
		      "empty name, parents 1 and 2 (seed %zu)", i);
	}
	free(hp);
}

/* Every byte value counts, at every position of names up to 255 bytes. */
static void test_every_byte(void)
{
	uint32_t h[256];
	unsigned char name[NAME_MAX_LEN];

	for (size_t i = 0; i < NSEEDS; i++) {
		for (unsigned b = 0; b < 256; b++) {
			unsigned char one = (unsigned char)b;

			h[b] = hash(seeds[i], 99, &one, 1);
		}
		CHECK(collisions(h, 256) == 0,
		      "the 256 one-byte names (seed %zu)", i);
		for (size_t pos = 0; pos < NAME_MAX_LEN; pos += 127) {
			memset(name, 'n', sizeof(name));
			for (unsigned b = 0; b < 256; b++) {
				name[pos] = (unsigned char)b;
				h[b] = hash(seeds[i], 99, name, NAME_MAX_LEN);
			}
			CHECK(collisions(h, 256) == 0,
			      "255-byte names differing in byte %zu (seed %zu)",
			      pos, i);
		}
		/* every length of a 255-byte name's prefixes is a new name */
		uint32_t lens[NAME_MAX_LEN + 1];

		memset(name, 0xff, sizeof(name));
		for (size_t len = 0; len <= NAME_MAX_LEN; len++)
			lens[len] = hash(seeds[i], 99, name, len);
		CHECK(collisions(lens, NAME_MAX_LEN + 1) == 0,
		      "prefixes 0..255 of a name of 0xff bytes (seed %zu)", i);
	}
}

/* Many names in one directory: as few collisions as a random 32-bit
 * function (about n^2 / 2^33 expected) and even buckets. */
static void test_many_names(void)
{
	enum { N = 200000, NBUCKETS = 1 << 16 };
	uint32_t *h = malloc(N * sizeof(*h)), *two = malloc(65536 * sizeof(*h));
	char name[32];

	if (!h || !two)
		abort();
	for (size_t i = 0; i < NSEEDS; i++) {
		for (size_t n = 0; n < N; n++) {
			int len = snprintf(name, sizeof(name), "file%zu", n);

			h[n] = hash(seeds[i], 4096, name, (size_t)len);
		}
		/* expected load about 3, mean collisions about 4.7 */
		CHECK(fullest_bucket(h, N, NBUCKETS) <= 16,
		      "%d names file0.. over %d buckets (seed %zu)", N,
		      NBUCKETS, i);
		CHECK(collisions(h, N) <= 16,
		      "%d names file0.. (seed %zu)", N, i);
		/* every two-byte name, NUL and high bytes included */
		for (unsigned n = 0; n < 65536; n++) {
			unsigned char nm[2] = { (unsigned char)(n >> 8),
						(unsigned char)n };

			two[n] = hash(seeds[i], 4096, nm, 2);
		}
		CHECK(fullest_bucket(two, 65536, 4096) <= 40,
		      "two-byte names over 4096 buckets (seed %zu)", i);
		CHECK(collisions(two, 65536) <= 4,
		      "the 65536 two-byte names (seed %zu)", i);
	}
	free(h);
	free(two);
}

/* The function itself: stored hashes in existing arenas depend on it.
 * (Values worked out apart from ns.c, from the algorithm: FNV-1a over the
 * name from seed ^ mix64(parent), then mix64, low 32 bits.) */
static void test_pinned_values(void)
{
	static const struct {
		uint64_t seed, parent;
		const char *name;
		size_t len;
		uint32_t want;
	} cases[] = {
		{ 0x5eed, 4096, "", 0, 0x70410769 },
		{ 0, 4096, "a", 1, 0xc37fda83 },
		{ 0x0123456789abcdefULL, 4240, "file.txt", 8, 0xac65ed0e },
		{ UINT64_MAX, 1, "\xc3\xa9t\xc3\xa9", 5, 0x53370ce5 },
		{ 7, 65536, "a\0b\xff", 4, 0x7fd8bc2f },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t got = hash(cases[i].seed, cases[i].parent,
				    cases[i].name, cases[i].len);

		CHECK(got == cases[i].want,
		      "pinned value %zu: got 0x%08x, want 0x%08x", i, got,
		      cases[i].want);
	}
}

int main(void)
{
	test_deterministic();
	test_each_input_counts();
	test_every_byte();
	test_many_names();
	test_pinned_values();
	return unit_exit("test_ns");
}
