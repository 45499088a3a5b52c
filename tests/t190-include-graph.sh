#!/bin/sh
# t190-include-graph - the include rules of the source tree, read from the
# `#include "..."` lines (system headers, <...>, are not checked), so that
# a later change cannot break the layering silently:
#
#   dir        may include (besides its own directory and tao.h)
#   core/      proto/                 the loop, framer, timers, log: below
#                                     every process role, above the codecs
#   proto/     -                      wire formats: pure
#   shm/       -                      shared-memory layouts: pure
#   worker/    core/ proto/ shm/
#   client/    core/ proto/           a client has no shared memory
#   master/    core/ proto/ shm/ worker/entry.h (the worker's entry point,
#                                     nothing else of worker/),
#                                     cluster/bridge.h (the bridge's)
#   cluster/   core/ proto/ shm/      the cluster bridge process
#   ctl/       proto/                 taoctl speaks the control protocol
#   taod/      core/ proto/ master/ apps/apps.h
#   apps/      apps/apps.h only (and tao.h)
#   examples/  tao.h, and its own files (examples/codec/...)
#
# tests/, bench/ and fuzz/ may look inside anything.
#
# TAO_INCLUDE_ROOT: the tree to check (default: this one).

top=${TAO_INCLUDE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}

allowed() {	# dir target -> 0 if dir/... may include target
	case $2 in tao.h|include/tao.h|"$1"/*) return 0 ;; esac
	case $1:$2 in
	core:proto/*) return 0 ;;
	worker:core/*|worker:proto/*|worker:shm/*) return 0 ;;
	client:core/*|client:proto/*) return 0 ;;
	master:core/*|master:proto/*|master:shm/*|master:worker/entry.h)
		return 0 ;;
	master:cluster/bridge.h) return 0 ;;
	cluster:core/*|cluster:proto/*|cluster:shm/*) return 0 ;;
	ctl:proto/*) return 0 ;;
	taod:core/*|taod:proto/*|taod:master/*|taod:apps/apps.h) return 0 ;;
	examples:*)	# its own files, e.g. the codec of examples/codec/
		[ -f "$top/examples/$2" ] && return 0 ;;
	esac
	return 1
}

n=0
failed=0
for dir in core proto shm worker client cluster master ctl taod apps examples; do
	[ -d "$top/$dir" ] || continue
	bad= files=0 edges=0
	for f in "$top/$dir"/*.c "$top/$dir"/*.h; do
		[ -f "$f" ] || continue
		files=$((files + 1))
		rel=$dir/${f##*/}
		for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
			edges=$((edges + 1))
			allowed "$dir" "$inc" || bad="$bad $rel->$inc"
		done
	done
	n=$((n + 1))
	if [ -n "$bad" ]; then
		echo "not ok $n - $dir/ keeps its include rules ($files files, $edges includes)"
		for e in $bad; do echo "# forbidden: $e"; done
		failed=$((failed + 1))
	else
		echo "ok $n - $dir/ keeps its include rules ($files files, $edges includes)"
	fi
done
[ "$n" -gt 0 ] || { echo "Bail out! no source directories under $top"; exit 1; }
echo "1..$n"
exit $((failed > 0))
