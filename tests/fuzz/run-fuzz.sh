#!/usr/bin/env bash
# tests/fuzz/run-fuzz.sh -- build the libFuzzer targets and fuzz for a while.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: tests/fuzz/run-fuzz.sh [-t SECONDS] [-w DIR] [--seeds] [TARGET...]

Builds tests/fuzz/fuzz_arena, fuzz_ops and fuzz_lib with clang
(-fsanitize=fuzzer,address,undefined) against src/store and src/ring (and
libmmfs, for fuzz_lib), then runs each TARGET (default: arena ops lib) for
SECONDS (default 60, or $MMFS_FUZZ_TIME), in parallel, on a copy of
tests/fuzz/corpus/TARGET (lib: and of corpus/arena; the committed corpus is
never modified).  Every input of the corpus runs first, so the committed
seeds are also a regression test.

  -t SECONDS  fuzzing time per target (0: run the corpus only)
  -w DIR      work directory (default: a new one under /tmp); kept on failure
  --seeds     rewrite the seeds of tests/fuzz/corpus with make_seeds
              (regress-* files are kept) instead of fuzzing
Exit status: 0 if nothing was found; 1 on a crash, sanitizer report,
assertion, timeout (-timeout=5 per input), leak or out-of-memory (the
reproducer and log are in the work directory); 2 on a usage or build error.
USAGE
}

here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
root="$(cd "$here/../.." && pwd)"
secs="${MMFS_FUZZ_TIME:-60}"
work=""
seeds=0
targets=()
while [ "$#" -gt 0 ]; do
	case "$1" in
	-t) secs="$2"; shift ;;
	-w) work="$2"; shift ;;
	--seeds) seeds=1 ;;
	-h | --help) usage; exit 0 ;;
	arena | ops | lib) targets+=("$1") ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[ "${#targets[@]}" -gt 0 ] || targets=(arena ops lib)
case "$secs" in '' | *[!0-9]*) usage >&2; exit 2 ;; esac

cc=""
for c in "${MMFS_FUZZ_CC:-}" clang clang-16 clang-15 clang-14; do
	if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then
		cc="$c"
		break
	fi
done
if [ -z "$cc" ]; then
	echo "run-fuzz: clang not found (apt-get install clang)" >&2
	exit 2
fi

made_work=0
if [ -z "$work" ]; then
	work="$(mktemp -d /tmp/mmfs-fuzz.XXXXXX)"
	made_work=1
fi
mkdir -p "$work"

srcs=("$root"/src/store/*.c "$root"/src/ring/ring.c)
incs=(-I"$root/src/store" -I"$root/src/store/include" -I"$root/src/ring/include")
# fuzz_lib also drives libmmfs itself (mmfs_attach ...)
lib_srcs=("$root/src/lib/mmfs.c" "$root/src/common/mounts.c")
lib_incs=(-I"$root/src/lib/include" -I"$root/src/common")
cflags=(-std=c17 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror
	-Wno-unused-parameter -fno-omit-frame-pointer)

if [ "$seeds" -eq 1 ]; then
	echo "run-fuzz: building make_seeds"
	"$cc" "${cflags[@]}" -fsanitize=address,undefined "${incs[@]}" \
		"${srcs[@]}" "$here/make_seeds.c" -o "$work/make_seeds" -lpthread
	"$work/make_seeds" "$here/corpus"
	echo "run-fuzz: wrote $here/corpus"
	[ "$made_work" -eq 0 ] || rm -rf "$work"
	exit 0
fi

start=$SECONDS
for t in "${targets[@]}"; do
	echo "run-fuzz: building fuzz_$t with $cc"
	extra_srcs=()
	[ "$t" = lib ] && extra_srcs=("${lib_incs[@]}" "${lib_srcs[@]}")
	if ! "$cc" "${cflags[@]}" -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined "${incs[@]}" "${srcs[@]}" \
		${extra_srcs[@]+"${extra_srcs[@]}"} \
		"$here/fuzz_common.c" "$here/fuzz_$t.c" -o "$work/fuzz_$t" \
		-lpthread; then
		echo "run-fuzz: build of fuzz_$t failed" >&2
		exit 2
	fi
done

# run TARGET: fuzz a copy of its corpus; the exit status of libFuzzer.
run() {
	local t="$1" corpus="$work/corpus-$1" extra=()
	rm -rf "$corpus"
	mkdir -p "$corpus"
	# fuzz_lib's inputs are arenas too: the arena seeds, and its own
	[ "$t" = lib ] && cp "$here/corpus/arena"/* "$corpus/"
	cp "$here/corpus/$t"/* "$corpus/"
	[ "$t" = ops ] && extra=(-max_len=1024)
	if [ "$secs" -eq 0 ]; then
		extra+=(-runs=0)
	else
		extra+=(-max_total_time="$secs")
	fi
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$work/fuzz_$t" -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix="$work/$t-" -print_final_stats=1 \
		"${extra[@]}" "$corpus" >"$work/$t.log" 2>&1
}

declare -A pids
for t in "${targets[@]}"; do
	if [ "$secs" -eq 0 ]; then
		echo "run-fuzz: running the corpus of $t (log: $work/$t.log)"
	else
		echo "run-fuzz: fuzzing $t for ${secs}s (log: $work/$t.log)"
	fi
	run "$t" &
	pids[$t]=$!
done

failed=()
for t in "${targets[@]}"; do
	rc=0
	wait "${pids[$t]}" || rc=$?
	found="$(find "$work" -maxdepth 1 -name "$t-*" -type f | head -n 5)"
	runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")"
	if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
		failed+=("$t")
		echo "run-fuzz: $t FAILED (libFuzzer exit $rc)" >&2
		grep -E -A 12 'ERROR|FUZZ ASSERT|runtime error|ALARM|Timeout|deadly' \
			"$work/$t.log" | head -n 40 >&2 || tail -n 30 "$work/$t.log" >&2
		[ -z "$found" ] || echo "run-fuzz: reproducer(s): $found" \
			"(run: $work/fuzz_$t FILE)" >&2
	else
		echo "run-fuzz: $t passed (${runs:-?} inputs)"
	fi
done

echo "run-fuzz: $((SECONDS - start))s"
if [ "${#failed[@]}" -gt 0 ]; then
	echo "run-fuzz: FAILED: ${failed[*]}; work directory kept: $work" >&2
	exit 1
fi
[ "$made_work" -eq 0 ] || rm -rf "$work"
exit 0
