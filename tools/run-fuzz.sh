#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each one for a
# while from its seeds. Usage: tools/run-fuzz.sh [seconds per target (600)] [target...]
# Targets: safetensors, config, gguf (default: all). The growing corpus is kept
# in fuzz/corpus-run/<target> (ignored by git); a crash leaves crash-* files
# in the repository root and stops with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config gguf)
make fuzz -j2 >/dev/null
for t in "${targets[@]}"; do
    case "$t" in
        safetensors) max=65536 ;;
        config) max=8192 ;;
        gguf) max=65536 ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    mkdir -p "fuzz/corpus-run/$t"
    echo "== fuzz_$t for ${secs}s"
    nice -n 10 "build-fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$max" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "fuzz/corpus-run/$t" "fuzz/seeds/$t"
done
