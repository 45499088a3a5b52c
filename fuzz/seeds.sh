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

rm -rf fuzz/corpus/tlv fuzz/corpus/line fuzz/corpus/varint

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

# fuzz-proxy takes raw bytes (no knob bytes): the headers of
# tests/t220-proxy-parse.c.
raw() {	# raw NAME BYTES (printf format)
	mkdir -p fuzz/corpus/proxy
	printf "$2" >"fuzz/corpus/proxy/$1"
}
rm -rf fuzz/corpus/proxy
sig='\015\012\015\012\000\015\012QUIT\012'
raw v1-tcp4	'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nhello'
raw v1-tcp6	'PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n'
raw v1-mapped	'PROXY TCP6 ::ffff:10.1.2.3 ::1 80 81\r\n'
raw v1-unknown	'PROXY UNKNOWN\r\n'
raw v1-unknown2	'PROXY UNKNOWN ffff:: ffff:: 1 2\r\n'
raw v1-partial	'PROXY TCP4 10.0.0.1 10.0'
raw v2-tcp4	"$sig"'\041\021\000\014\300\000\002\001\306\063\144\007\334\004\001\273'
raw v2-tcp6	"$sig"'\041\041\000\044 \001\015\270\000\000\000\000\000\000\000\000\000\000\000\001 \001\015\270\000\000\000\000\000\000\000\000\000\000\000\002\000\001\377\377'
raw v2-tlv	"$sig"'\041\021\000\021\012\000\000\001\012\000\000\002\004\322\026\056\001\000\002h2'
raw v2-local	"$sig"'\040\000\000\000'
raw v2-unspec	"$sig"'\041\000\000\003\004\000\000'

# The example varint codec (tests/t230-codec-custom.c's cases).
seed varint hello	6	128	'\005hello'
seed varint empty	6	0	'\000'
seed varint twobyte	6	100	"\\254\\002$(printf '%0300d' 0)"
seed varint over64	4	128	"\\101${p64}x"
seed varint eleven	7	5	'\200\200\200\200\200\200\200\200\200\200\001'
seed varint stream	22	100	'\002hi\000\003abc\001'
