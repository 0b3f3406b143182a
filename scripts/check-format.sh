#!/usr/bin/env bash
# Fails when a C++ file differs from what clang-format would write.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src tests bench -name '*.cc' -o -name '*.h' | sort)
clang-format --dry-run -Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
