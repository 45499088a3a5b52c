#!/bin/sh
# t191-code-size - the size targets of the source tree (issue 13):
#
#   - no non-test C file over 600 lines, and their median at most 200;
#   - no function over 60 lines, tests, bench and fuzz included.
#
# Non-test files are the .c files under core/ worker/ client/ master/
# proto/ shm/ ctl/ taod/ apps/ examples/; test files those under tests/
# (with tests/lib/), bench/ and fuzz/.
#
# How a function is found.  STYLE.md puts the return type on its own line,
# the function's name at column 0 and its body's braces at column 0:
#
#	static int
#	name(struct x *x,
#	    int flags)
#	{
#		...
#	}
#
# So a body opens at a line that is exactly "{" and closes at the next line
# that is exactly "}" (a trailing backslash is allowed, for the functions a
# macro defines).  Nothing else in this style puts a lone brace at column
# 0: struct, enum and initializer braces end the line that opens them.
# The function is named by the last line before the "{" that starts at
# column 0 with an identifier and "(", and its length counts from that line
# to the closing brace, both included: signature and body, what a reader
# has to take in.  A "{" with no such line is still measured, from itself.
# As a check on the method, every file must have as many lone "{" lines as
# lone "}" lines, or its functions are reported unmeasurable.
#
# TAO_SIZE_ROOT: the tree to check (default: this one).
# TAO_SIZE_MAX_FILE, TAO_SIZE_MAX_FUNC, TAO_SIZE_MAX_MEDIAN: the limits.
# TAO_SIZE_PROD=todo: production violations as TAP TODO (default strict).

top=${TAO_SIZE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
max_file=${TAO_SIZE_MAX_FILE:-600}
max_func=${TAO_SIZE_MAX_FUNC:-60}
max_median=${TAO_SIZE_MAX_MEDIAN:-200}
prod_mode=${TAO_SIZE_PROD:-strict}

prod_dirs="core worker client master proto shm ctl taod apps examples"
test_dirs="tests bench fuzz"

cd "$top" || { echo "Bail out! cannot enter $top"; exit 1; }

c_files() {	# dir... -> the .c files under them, sorted, one a line
	for d in "$@"; do
		[ -d "$d" ] && find "$d" -name '*.c' -type f
	done | LC_ALL=C sort
}

# file:function:first-line:length for every function of the files given;
# "file:?:0:0" for a file whose braces do not pair up.
functions() {
	[ $# -gt 0 ] || return 0
	awk '
	function flush() {
		if (FILENAME_prev != "" && opens != closes)
			printf "%s:?:0:0\n", FILENAME_prev
	}
	FNR == 1 {
		flush()
		FILENAME_prev = FILENAME
		name = ""; name_line = 0; open = 0; opens = 0; closes = 0
	}
	!open && /^[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/ {
		name = $0
		sub(/[ \t]*\(.*/, "", name)
		name_line = FNR
	}
	/^\{[ \t]*\\?[ \t]*$/ {
		opens++
		if (!open) {
			open = 1
			fn = name != "" ? name : "(unnamed)"
			start = name_line ? name_line : FNR
		}
		next
	}
	/^\}[ \t]*\\?[ \t]*$/ {
		closes++
		if (open) {
			open = 0
			printf "%s:%s:%d:%d\n", FILENAME, fn, start, FNR - start + 1
			name = ""; name_line = 0
		}
		next
	}
	END { flush() }
	' "$@"
}

# shellcheck disable=SC2086 # the lists split on blanks: paths have none
prod=$(c_files $prod_dirs)
# shellcheck disable=SC2086
tests=$(c_files $test_dirs)
[ -n "$prod" ] || { echo "Bail out! no source files under $top"; exit 1; }

n=0
failed=0
# Every check is strict.  TAO_SIZE_PROD=todo reports a failing check on
# production code as a TAP TODO instead (printed, not failing), for a
# branch whose production code others are still reshaping; test, bench
# and fuzz code is always checked strictly.
report() {	# strict|todo ok? description [list]
	n=$((n + 1))
	if [ "$2" = 1 ]; then
		echo "ok $n - $3"
	elif [ "$1" = todo ]; then
		echo "not ok $n - $3 # TODO production code is still being split"
		[ -z "$4" ] || printf '%s\n' "$4" | sed 's/^/# /'
	else
		echo "not ok $n - $3"
		[ -z "$4" ] || printf '%s\n' "$4" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
}

# 1. file sizes
sizes=$(for f in $prod; do printf '%s %s\n' "$(wc -l < "$f")" "$f"; done)
nfiles=$(printf '%s\n' "$sizes" | wc -l)
big=$(printf '%s\n' "$sizes" | awk -v max="$max_file" \
	'$1 > max { print $2 ": " $1 " lines" }')
report "$prod_mode" "$([ -z "$big" ] && echo 1)" \
	"no non-test C file over $max_file lines ($nfiles files)" "$big"

# 2. median file size (the middle one, or the mean of the two middle ones)
median=$(printf '%s\n' "$sizes" | sort -n | awk '
	{ v[NR] = $1 }
	END {
		if (NR % 2) print v[(NR + 1) / 2]
		else print int((v[NR / 2] + v[NR / 2 + 1]) / 2)
	}')
largest=$(printf '%s\n' "$sizes" | sort -n | tail -n 1)
echo "# median non-test C file: $median lines; largest: $largest"
report "$prod_mode" "$([ "$median" -le "$max_median" ] && echo 1)" \
	"median non-test C file size $median <= $max_median lines"

# 3, 4. function lengths
check_functions() {	# strict|todo what files...
	mode=$1; what=$2; shift 2
	all=$(functions "$@")
	count=$(printf '%s\n' "$all" | grep -c .)
	unmeasured=$(printf '%s\n' "$all" | awk -F: '$2 == "?" { print $1 ": braces at column 0 do not pair up" }')
	long=$(printf '%s\n' "$all" | awk -F: -v max="$max_func" \
		'$2 != "?" && $4 > max { print $1 ":" $2 ":" $4 " (line " $3 ")" }' |
		sort -t: -k3 -nr)
	list=$(printf '%s\n%s\n' "$unmeasured" "$long" | grep .)
	report "$mode" "$([ -z "$list" ] && echo 1)" \
		"no $what function over $max_func lines ($count functions)" "$list"
}
# shellcheck disable=SC2086
check_functions "$prod_mode" non-test $prod
# shellcheck disable=SC2086
check_functions strict test $tests

echo "1..$n"
exit $((failed > 0))
