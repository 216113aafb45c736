#!/usr/bin/env bash
# Shard + merge against one run: run `predict` once, then its N shards one after another, merge them,
# and compare the merged output with the single run byte for byte. Prints the wall time of each step.
#   bash scripts/bench_shard.sh MODEL INPUT FORMAT PRECISION N WORKDIR
#   bash scripts/bench_shard.sh runs/onnx ../shared/data/conll2003/test.txt conll fp32 3 /tmp/shard-conll
set -euo pipefail
model=$1 input=$2 fmt=$3 precision=$4 n=$5 work=$6
mkdir -p "$work"
common=(--model "$model" --input "$input" --input-format "$fmt" --device cpu --precision "$precision" --threads 1)
timed() { local start=$SECONDS; "${@:2}"; echo "$1: $((SECONDS - start)) s"; }
timed single offline-ner predict "${common[@]}" -o "$work/single.out" 2>"$work/single.err"
shards() { for k in $(seq 1 "$n"); do offline-ner predict "${common[@]}" --shard "$k/$n" -o "$work/part-$k.out" \
    2>"$work/part-$k.err"; done; }
timed "$n shards, one after another" shards
timed merge offline-ner predict-merge --input "$input" --input-format "$fmt" -o "$work/merged.out" "$work"/part-*.out
if cmp -s "$work/single.out" "$work/merged.out"; then
    echo "byte-identical: $(wc -l <"$work/merged.out") lines, sha256 $(sha256sum <"$work/merged.out" | cut -c1-16)"
else
    echo "DIFFERENT: $(cmp "$work/single.out" "$work/merged.out")"; exit 1
fi
