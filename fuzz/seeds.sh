#!/bin/sh
# seeds.sh - write the committed seed corpora fuzz/corpus/{tlv,line}/ from
# the unit tests' cases (tests/t010-proto-tlv.c, tests/t011-proto-line.c).
# Run from the top of the tree after changing the input layout; the files
# are committed, so the fuzz build does not need this script.
#
# Every input starts with two knob bytes (codec-check.c): knobs, cut.
# knobs & 7 picks max_frame: 0 1 5 8 64 255 4096 8MiB; knobs >> 3 is the
# read size - 1 of the third pass.
set -eu

seed() {	# seed DIR NAME KNOBS CUT BYTES (printf format)
	mkdir -p "fuzz/corpus/$1"
	printf "\\$(printf %03o "$3")\\$(printf %03o "$4")$5" \
	    >"fuzz/corpus/$1/$2"
}

# 64 bytes of payload for the max_frame = 64 boundary.
p64=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

rm -rf fuzz/corpus/tlv fuzz/corpus/line

#        name		knobs	cut	stream
seed tlv hello		6	128	'\001\000\000\000\005\000\000\000hello'
seed tlv heartbeat	6	0	'\000\000\000\000\000\000\000\000'
seed tlv negative	14	77	'\371\377\377\377\001\000\000\000x'
seed tlv int32min	6	200	'\000\000\000\200\003\000\000\000abc'
hello='\001\000\000\000\005\000\000\000hello'
beat='\000\000\000\000\000\000\000\000'
neg='\371\377\377\377\001\000\000\000x'
max0='\377\377\377\177\000\000\000\000'
part='\011\000\000\000\144\000\000\000zzz'
seed tlv stream		22	100	"$hello$beat$neg$max0$part"
seed tlv max64		4	128	"\\052\\000\\000\\000\\100\\000\\000\\000$p64"
seed tlv over64		4	128	"\\052\\000\\000\\000\\101\\000\\000\\000${p64}x"
seed tlv huge		7	10	'\377\377\377\377\377\377\377\377garbage'
seed tlv fragment	6	255	'\001\000\000\000'
seed tlv partial	0	3	'\007\000\000\000\144\000\000\000abc'

seed line hello		6	128	'hello\n'
seed line crlf		6	100	'hello\r\nworld\n'
seed line stream	14	90	'hello\n\nx\r\nmid\rdle\r\n\r\ncr\r\r\n'\
'\000\377\t\npartial\r'
seed line max64		4	128	"$p64\\r\\n${p64}\\n"
seed line over64	4	128	"${p64}x\\n"
seed line nonl		4	200	"${p64}${p64}"
seed line cr64		4	250	"${p64}\\r"
seed line fragment	6	255	'abcd'
seed line empty0	0	128	'\n\r\n\n'
