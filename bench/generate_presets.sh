#!/usr/bin/env bash
# Time and peak memory of generating each preset (issue: the generator must do fukuoka in < 3 min on 2 cores).
#   bench/generate_presets.sh [out-dir]      prints one line per preset; writes reports/bench/generate.txt
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/mimamori-presets}
mkdir -p reports/bench
{
  printf '%-10s %10s %12s %14s\n' preset wall_s peak_rss_MB landing_MB
  for preset in tiny kaga toda amagasaki fukuoka yokohama; do
    rm -rf "$out/$preset"
    /usr/bin/time -f '%e %M' -o /tmp/mimamori-time .venv/bin/mimamori generate --preset "$preset" --seed 1 \
      --as-of 2026-11-30 --out "$out/$preset" >/dev/null
    read -r wall rss < /tmp/mimamori-time
    printf '%-10s %10s %12d %14d\n' "$preset" "$wall" $((rss / 1024)) "$(du -sm "$out/$preset/landing" | cut -f1)"
  done
} | tee reports/bench/generate.txt
