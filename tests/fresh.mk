# tests/fresh.mk - `make fresh-check`: the README's two commands, and the
# packages, on a Debian 12 minbase root made by debootstrap (see
# tests/fresh-check.sh).  It tests the last commit, not the work tree.
.PHONY: fresh-check
fresh-check:
	tests/fresh-check.sh
