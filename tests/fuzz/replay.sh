#!/bin/bash
# replay.sh - `make check`'s run of every fuzz corpus (tests/fuzz/NAME/)
# through its target, built without libFuzzer (tests/fuzz/replay_NAME).
#
# Inputs listed in tests/fuzz/known-crashes.txt reproduce defects not
# fixed yet: each is run on its own and reported as KNOWN (still
# failing) or FIXED (remove it from the list); neither fails the test.
# Any other input that crashes, leaks (sanitizer build) or breaks an
# invariant fails it, and the log names the input.
set -u

src=${TESTS_SRCDIR:?}/fuzz
bin=${TESTS_BUILDDIR:?}/fuzz
known_list=$src/known-crashes.txt
failed=0

known() {	# TARGET/FILE
	grep -qE "^$1([[:space:]]|\$)" "$known_list" 2>/dev/null
}

while read -r t _; do
	[[ -z $t || $t == \#* ]] && continue
	if [[ ! -x $bin/replay_$t ]]; then
		echo "FAIL $t: $bin/replay_$t not built"
		failed=1
		continue
	fi
	if [[ ! -d $src/$t ]]; then
		echo "FAIL $t: no corpus $src/$t"
		failed=1
		continue
	fi
	files=()
	for f in "$src/$t"/*; do
		[[ -f $f ]] || continue
		if known "$t/$(basename "$f")"; then
			# (In a subshell: the shell's "Aborted" notice is noise.)
			if (${KUBE_UPROXY_WRAP:-} "$bin/replay_$t" "$f" >/dev/null 2>&1) 2>/dev/null; then
				echo "FIXED $t/$(basename "$f"): passes now; remove it from tests/fuzz/known-crashes.txt"
			else
				echo "KNOWN $t/$(basename "$f"): still fails (tests/fuzz/known-crashes.txt)"
			fi
			continue
		fi
		files+=("$f")
	done
	# shellcheck disable=SC2086
	if out=$(${KUBE_UPROXY_WRAP:-} "$bin/replay_$t" "${files[@]}" 2>&1); then
		echo "PASS $t: ${#files[@]} inputs"
	else
		echo "FAIL $t:"
		tail -n 30 <<<"$out"
		failed=1
	fi
done <"$src/targets.txt"
exit $failed
