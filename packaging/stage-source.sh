#!/bin/sh
# stage-source.sh DEST - copy the source tree into DEST for a package build.
#
# The files are those git knows or would add (tracked, and untracked but not
# ignored), so a package can be built from a work tree before a commit;
# outside git, every file but .git and build/.  build/ is always left out:
# it holds our own output, and copying it into itself would never end.
set -eu

dest=${1:?usage: stage-source.sh DEST}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

list_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -co --exclude-standard
	else
		find . \( -name .git -o -path ./build \) -prune -o \
		    \( -type f -o -type l \) -print | sed 's|^\./||'
	fi
}

rm -rf "$dest"
mkdir -p "$dest"
# A tracked file deleted in the work tree is not part of the build.
list_files | grep -v '^build/' | while IFS= read -r f; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		printf '%s\n' "$f"
	fi
done | tar -cf - -T - | tar -xf - -C "$dest"
