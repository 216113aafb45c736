#!/usr/bin/env bash
# Install a runtime bundle as a closed host does: its own install.sh, inside 'unshare -rn' (a network namespace with
# no interfaces), pip's configuration and caches hidden, into a fresh venv; then print one JSON line: the bundle's
# size and wheel count, install wall and CPU seconds (user + system, all processes), and the venv's size.
# Usage: scripts/bench_install.sh BUNDLE PUBKEY [PYTHON]      (PYTHON: the bundle's target interpreter, default
#        python3); the venv is left in $WORK/venv for checks (WORK default: a new temp folder, printed).
# Results: BENCHMARKS.md, "Runtime bundles per profile".
set -euo pipefail
bundle=$(realpath "$1"); pubkey=$(realpath "$2"); python=${3:-python3}
python=$(command -v "$python")
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-install.XXXXXX")}
mkdir -p "$work/home"
tar -xOf "$bundle" payload/install.sh > "$work/install.sh"
TIMEFORMAT='%R %U %S'
times=$( { time env -i HOME="$work/home" PATH=/usr/bin:/bin LANG=C.UTF-8 PIP_CONFIG_FILE=/dev/null TMPDIR="$work" \
    unshare -rn sh "$work/install.sh" "$bundle" --pubkey "$pubkey" --venv "$work/venv" --python "$python" \
    > "$work/install.log" 2>&1; } 2>&1 )
read -r wall user sys <<< "$times"
wheels=$(tar -tf "$bundle" | grep -c '\.whl$')
echo "{\"bundle\": \"$(basename "$bundle")\", \"bundle_mb\": $(( $(stat -c %s "$bundle") / 1000000 )), \"wheels\": $wheels," \
     "\"install_wall_s\": $wall, \"install_cpu_s\": $(echo "$user + $sys" | bc), \"venv_mb\": $(( $(du -sb "$work/venv" | cut -f1) / 1000000 ))," \
     "\"venv\": \"$work/venv\"}"
