#!/usr/bin/env node
// Node peer of the review benchmark (bench/review.sh runs it with bench/review/node_modules).
//
//   node mint.js WORDS TEXT [--piece 65536]
//
// mint-filter (npm): `new Mint(words)` builds its Aho–Corasick trie, then
// `mint.filter(piece, { replace: false })` runs over the text cut into the same pieces as the Rust
// and Python drivers (at most --piece bytes, each cut moved back to a UTF-8 char boundary, decoded
// before timing starts); matches = the total length of the `words` arrays it returns. mint-filter
// reports at most one word per position (the word ending at the trie node it reached, not the
// shorter words ending there too), so it finds fewer matches than an overlapping search.
//
// Prints one JSON object, with the same keys as crates/policy/examples/review_bench.rs.
'use strict';

const fs = require('fs');
const path = require('path');
const { Mint } = require('mint-filter');

function memory() {
  let rss = 0;
  let hwm = 0;
  for (const line of fs.readFileSync('/proc/self/status', 'ascii').split('\n')) {
    if (line.startsWith('VmRSS:')) rss = Number(line.split(/\s+/)[1]) * 1024;
    if (line.startsWith('VmHWM:')) hwm = Number(line.split(/\s+/)[1]) * 1024;
  }
  return [rss, hwm];
}

function timer() {
  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(cpu);
    return [Number(process.hrtime.bigint() - wall) / 1e9, (c.user + c.system) / 1e6];
  };
}

function pieces(buf, size) {
  const out = [];
  let start = 0;
  const n = buf.length;
  while (start < n) {
    let end = Math.min(start + size, n);
    while (end < n && (buf[end] & 0xc0) === 0x80) end -= 1;
    out.push(buf.toString('utf8', start, end));
    start = end;
  }
  return out;
}

function main() {
  const args = process.argv.slice(2);
  let piece = 65536;
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--piece') piece = Number(args[++i]);
    else pos.push(args[i]);
  }
  if (pos.length !== 2) {
    console.error('usage: node mint.js WORDS TEXT [--piece BYTES]');
    process.exit(2);
  }
  const [wordsPath, textPath] = pos;
  const words = fs.readFileSync(wordsPath, 'utf8').split('\n').filter((w) => w.length > 0);
  const pkg = JSON.parse(
    fs.readFileSync(path.join(path.dirname(require.resolve('mint-filter')), '..', '..', 'package.json'), 'utf8'),
  );

  const [rssBefore] = memory();
  let stop = timer();
  const mint = new Mint(words);
  const [buildS, buildCpuS] = stop();
  const [rssAfterBuild] = memory();

  const buf = fs.readFileSync(textPath);
  const parts = pieces(buf, piece);
  let textChars = 0;
  for (const p of parts) for (const _ of p) textChars++; // code points, as the other drivers count

  let matches = 0;
  stop = timer();
  for (const p of parts) {
    matches += mint.filter(p, { replace: false }).words.length;
  }
  const [scanWallS, scanCpuS] = stop();
  const [rssEnd, peak] = memory();
  console.log(
    JSON.stringify({
      mode: 'mint-filter',
      engine: 'mint-filter',
      version: pkg.version,
      node: process.version,
      entries: words.length,
      build_s: buildS,
      build_cpu_s: buildCpuS,
      matches,
      scan_wall_s: scanWallS,
      scan_cpu_s: scanCpuS,
      rss_before_build: rssBefore,
      rss_after_build: rssAfterBuild,
      rss_end: rssEnd,
      peak_rss: peak,
      text_bytes: buf.length,
      text_chars: textChars,
      pieces: parts.length,
    }),
  );
}

main();
