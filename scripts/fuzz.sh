#!/usr/bin/env bash
# Fuzzes one of the server's parsers with libFuzzer and AddressSanitizer for N seconds (default 60).
# usage: scripts/fuzz.sh parser|multipart [seconds]
#   parser     the HTTP/1.1 request parser (fuzz/FuzzParser.swift), spooling upload route included
#   multipart  the multipart/form-data reader (fuzz/FuzzMultipart.swift)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh parser|multipart [seconds]}"
seconds="${2:-60}"
out=fuzz/out/$target
corpus=fuzz/corpus/$target
mkdir -p "$out" "$corpus"
# Seeds: a few valid and invalid inputs, so the fuzzer starts from real shapes. The first byte of each
# input picks the size of the pieces it is fed in.
case "$target" in
parser)
  entry=fuzz/FuzzParser.swift
  printf '\x05GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n' > "$corpus/seed-get"
  printf '\x02POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n' > "$corpus/seed-chunked"
  printf '\x07POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n' > "$corpus/seed-pipeline"
  printf '\x01GET http://h/p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx' > "$corpus/seed-absolute"
  printf '\x03POST /u/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789' > "$corpus/seed-spooled"
  ;;
multipart)
  entry=fuzz/FuzzMultipart.swift
  printf '\x05--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ--\r\n' > "$corpus/seed-field"
  printf '\x03--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%%PDF-1.4 0123456789abcdef0123456789\r\n--XyZ\r\nContent-Disposition: form-data; name=d\r\n\r\nx\r\n--XyZ--' > "$corpus/seed-file"
  printf '\x01pre\r\n--XyZ \r\ncontent-disposition: form-data; name=x; filename="a\\"b"\r\nContent-Transfer-Encoding: binary\r\n\r\n\r\n--XyZ--\r\nepi' > "$corpus/seed-padding"
  ;;
*) echo "unknown target $target" >&2; exit 2 ;;
esac
sources=(
  Sources/HTTPServer/Parser/*.swift
  Sources/HTTPServer/Body/*.swift
  Sources/HTTPServer/Multipart/*.swift
  Sources/HTTPServer/Message/HTTPHeaders.swift
  Sources/HTTPServer/Message/HTTPError.swift
  Sources/HTTPServer/Message/HTTPMethod.swift
  Sources/HTTPServer/Message/HTTPStatus.swift
  Sources/HTTPServer/Message/Request.swift
  "$entry"
)
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name Fuzz -I Sources/CLinux "${sources[@]}" -o "$out/fuzz"
"$out/fuzz" "$corpus" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 -artifact_prefix="$out/" 2>&1 | tail -n 25
