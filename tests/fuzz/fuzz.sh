#!/bin/bash
# fuzz.sh - build the libFuzzer targets with clang and run each in turn.
#
# Run by `make fuzz`, which passes the flags configure found:
#   FUZZ_CC        clang with libFuzzer (default: clang)
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   space-separated subset of tests/fuzz/targets.txt
#   FUZZ_MERGE=1   afterwards, merge what each run found into the committed
#                  corpus tests/fuzz/NAME/ (libFuzzer -merge=1 keeps only
#                  inputs that add coverage)
#   FUZZ_FLAGS     extra libFuzzer flags (e.g. -jobs=2 -workers=2)
#   FUZZ_VERSION, FUZZ_SYSCONFDIR, FUZZ_CPPFLAGS (the libraries' -I...),
#   FUZZ_LIBS      from the Makefile
# Usage: fuzz.sh SRCDIR BUILDDIR
#
# Objects of every module but main.c are compiled again with
# -fsanitize=fuzzer-no-link,address,undefined into BUILDDIR/tests/fuzz-bin/
# (the library of the normal build is gcc's, without coverage).  Each run
# works on a copy of the committed corpus in BUILDDIR/tests/fuzz-work/NAME/;
# a crash, leak, time-out (> 1 s) or out-of-memory input is copied into
# the committed corpus as crash-*, leak-*, timeout-* or oom-*, where
# `make check` replays it.  The last lines are a table: per target the
# executions, coverage (libFuzzer's cov and ft), what was found, and
# whether the executions reached what the issue asks (targets.txt).
set -uo pipefail

srcdir=$(cd "${1:?srcdir}" && pwd)
builddir=$(cd "${2:?builddir}" && pwd)
cc=${FUZZ_CC:-clang}
seconds=${FUZZ_SECONDS:-60}
fuzzdir=$srcdir/tests/fuzz
bin=$builddir/tests/fuzz-bin
work=$builddir/tests/fuzz-work
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# shellcheck disable=SC2206
cflags=(-g -O1 -std=gnu11 $san -D_GNU_SOURCE
    -DPACKAGE_VERSION="\"${FUZZ_VERSION:-0}\"" -DSYSCONFDIR="\"${FUZZ_SYSCONFDIR:-/etc}\""
    -I"$srcdir/src" ${FUZZ_CPPFLAGS:-})
# shellcheck disable=SC2206
libs=(${FUZZ_LIBS:-})

die() {
	echo "fuzz: $*" >&2
	exit 1
}

command -v "$cc" >/dev/null ||
    die "$cc not found: install clang and libclang-rt-dev (Debian: apt-get install clang)"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d[0] + (int)n; }' \
    >"$builddir/fuzz-probe.c"
"$cc" -fsanitize=fuzzer "$builddir/fuzz-probe.c" -o "$builddir/fuzz-probe" 2>/dev/null ||
    die "$cc cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-dev)"
rm -f "$builddir/fuzz-probe.c" "$builddir/fuzz-probe"

# Target table.
declare -A want dict
all=()
while read -r name execs d; do
	[[ -z $name || $name == \#* ]] && continue
	all+=("$name")
	want[$name]=$execs
	dict[$name]=$d
done <"$fuzzdir/targets.txt"
read -r -a targets <<<"${FUZZ_TARGETS:-${all[*]}}"
for t in "${targets[@]}"; do
	[[ -n ${want[$t]:-} ]] || die "unknown target $t (see tests/fuzz/targets.txt)"
done

# Build: one object per module, rebuilt when its source or any header changed.
mkdir -p "$bin/obj" "$work"
newest_h=$(ls -t "$srcdir"/src/*.h "$fuzzdir"/*.h | head -n 1)
compile() {	# SOURCE OBJECT [extra flags]
	local src=$1 obj=$2
	shift 2
	if [[ -f $obj && $obj -nt $src && $obj -nt $newest_h ]]; then
		return 0
	fi
	echo "  CC(fuzz) ${src#"$srcdir"/}"
	"$cc" "${cflags[@]}" "$@" -c "$src" -o "$obj" ||
	    die "compiling $src failed"
}
objs=()
for src in "$srcdir"/src/*.c; do
	[[ $(basename "$src") == main.c ]] && continue
	obj=$bin/obj/$(basename "${src%.c}").o
	compile "$src" "$obj" -fsanitize=fuzzer-no-link
	objs+=("$obj")
done
compile "$fuzzdir/fuzz_util.c" "$bin/obj/fuzz_util.o" -fsanitize=fuzzer-no-link
objs+=("$bin/obj/fuzz_util.o")
rm -f "$bin/libkup-fuzz.a"
ar rcs "$bin/libkup-fuzz.a" "${objs[@]}" || die "ar failed"
for t in "${targets[@]}"; do
	compile "$fuzzdir/fuzz_$t.c" "$bin/obj/fuzz_$t.o" -fsanitize=fuzzer-no-link
	"$cc" "${cflags[@]}" -fsanitize=fuzzer "$bin/obj/fuzz_$t.o" \
	    "$bin/libkup-fuzz.a" "${libs[@]}" -o "$bin/fuzz_$t" ||
	    die "linking fuzz_$t failed"
done

# Run.  Targets that read a path write each input to a scratch file:
# keep it in memory when the machine has a tmpfs for that.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then
	export TMPDIR=/dev/shm
fi
declare -A r_execs r_rate r_cov r_ft r_found r_corpus
for t in "${targets[@]}"; do
	corpus=$fuzzdir/$t
	mkdir -p "$work/$t" "$work/$t.artifacts"
	# Committed inputs seed the working corpus (known crashes too: libFuzzer
	# runs them first, so a fixed one is checked; a live one stops the run).
	[[ -d $corpus ]] && cp -n "$corpus"/* "$work/$t"/ 2>/dev/null
	args=(-max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048
	    -timeout=1 -close_fd_mask=2 -artifact_prefix="$work/$t.artifacts/")
	[[ ${dict[$t]} != - ]] && args+=(-dict="$fuzzdir/dict/${dict[$t]}.dict")
	# Inputs the lead has not fixed yet would stop every run at once.
	known=$(grep -E "^$t/" "$fuzzdir/known-crashes.txt" 2>/dev/null |
	    sed 's/[[:space:]].*//' || true)
	for k in $known; do
		rm -f "$work/${k}"
	done
	log=$work/$t.log
	echo "fuzz: $t for ${seconds}s (log $log)"
	# shellcheck disable=SC2086
	nice -n 10 "$bin/fuzz_$t" "${args[@]}" ${FUZZ_FLAGS:-} "$work/$t" >"$log" 2>&1
	r_execs[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	r_rate[$t]=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	r_cov[$t]=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
	r_ft[$t]=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
	r_corpus[$t]=$(find "$work/$t" -type f | wc -l)
	found=()
	for a in "$work/$t.artifacts"/*; do
		[[ -f $a ]] || continue
		base=$(basename "$a")
		# On a loaded machine a slice of CPU may go by: a time-out
		# counts only when the input is slow again, run on its own.
		if [[ $base == timeout-* ]] &&
		    "$bin/fuzz_$t" -timeout=1 -runs=3 -close_fd_mask=2 "$a" >>"$log" 2>&1; then
			echo "fuzz: $t: $base not slow when run again: dropped" >&2
			rm -f "$a"
			continue
		fi
		found+=("${base%%-*}")
		cp "$a" "$corpus/$base"
		echo "fuzz: $t: FOUND $base, saved as tests/fuzz/$t/$base" >&2
		grep -m 1 -E 'ERROR: |SUMMARY: |invariant failed' "$log" >&2 || true
		rm -f "$a"
	done
	r_found[$t]=${found[*]:-none}
	if [[ ${FUZZ_MERGE:-0} == 1 ]]; then
		mkdir -p "$corpus"
		# (Inputs that crash are left out, and their artifacts kept
		# out of the source tree.)
		"$bin/fuzz_$t" -merge=1 -timeout=1 -rss_limit_mb=2048 -close_fd_mask=2 \
		    -artifact_prefix="$work/$t.merge-" "$corpus" "$work/$t" >>"$log" 2>&1 ||
		    echo "fuzz: $t: merge failed (see $log)" >&2
	fi
done

echo
printf '%-12s %12s %10s %6s %7s %8s  %-14s %s\n' target executions exec/s cov ft corpus found "issue (execs)"
for t in "${targets[@]}"; do
	e=${r_execs[$t]:-0}
	status=short
	((e >= want[$t])) && status=met
	printf '%-12s %12s %10s %6s %7s %8s  %-14s %s\n' "$t" "$e" \
	    "${r_rate[$t]:-0}" "${r_cov[$t]:--}" "${r_ft[$t]:--}" \
	    "${r_corpus[$t]}" "${r_found[$t]}" "$status (${want[$t]})"
done
for t in "${targets[@]}"; do
	[[ ${r_found[$t]} == none ]] || exit 1
done
exit 0
