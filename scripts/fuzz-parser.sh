#!/usr/bin/env bash
# Fuzzes the HTTP request parser with libFuzzer and AddressSanitizer for N seconds (default 60).
# usage: scripts/fuzz-parser.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=fuzz/out
corpus=fuzz/corpus
mkdir -p "$out" "$corpus"
# Seeds: a few valid and invalid requests, so the fuzzer starts from real shapes.
printf '\x05GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n' > "$corpus/seed-get"
printf '\x02POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n' > "$corpus/seed-chunked"
printf '\x07POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n' > "$corpus/seed-pipeline"
printf '\x01GET http://h/p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx' > "$corpus/seed-absolute"
sources=(
  Sources/HTTPServer/Parser/*.swift
  Sources/HTTPServer/Body/*.swift
  Sources/HTTPServer/Message/HTTPHeaders.swift
  Sources/HTTPServer/Message/HTTPError.swift
  Sources/HTTPServer/Message/HTTPMethod.swift
  Sources/HTTPServer/Message/HTTPStatus.swift
  Sources/HTTPServer/Message/Request.swift
  fuzz/FuzzParser.swift
)
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzParser -I Sources/CLinux "${sources[@]}" -o "$out/fuzz-parser"
"$out/fuzz-parser" "$corpus" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 -artifact_prefix="$out/" 2>&1 | tail -n 25
