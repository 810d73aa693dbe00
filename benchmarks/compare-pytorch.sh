#!/usr/bin/env bash
# Our training step (or inference forward) against PyTorch's on the same shapes, interleaved, several rounds.
#
#   benchmarks/compare-pytorch.sh                      # the issue's table: mini, fp32, 2 threads
#   ROUNDS=5 MODES="train infer" benchmarks/compare-pytorch.sh
#   CONFIGS="bert:128:32:30522 hybrid:512:8:8192" benchmarks/compare-pytorch.sh
#   BEFORE=/tmp/old/src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli benchmarks/compare-pytorch.sh
#   BENCH_ARGS="--trim-every 0" benchmarks/compare-pytorch.sh   # extra flags for our side (and BEFORE's)
#
# BEFORE: another build of ours (e.g. a `git worktree` of an older commit, built with `dotnet build
# src/HybridBert.Cli -c Release`) run in the same interleaving, so that before and after are each compared with
# PyTorch in one run; the table gains its ratio columns.
#
# PyTorch is Debian's python3-torch (`apt-get install python3-torch`), running benchmarks/pytorch/mini_train_step.py,
# an independent textbook implementation of the same model. Its matrix products go through the system BLAS
# (`update-alternatives --display libblas.so.3-x86_64-linux-gnu`); with Debian's default reference BLAS PyTorch is
# several times slower, so install a fast one first — measured here at mini AAAA 128×32, vocab 30522, 2 threads:
# BLIS-openmp 2,433 tok/s, OpenBLAS-openmp 2,360, OpenBLAS-pthread 2,147 (`apt-get install libblis4-openmp`). Each configuration runs in a fresh process on both
# sides (so peak RSS is its own), ours then PyTorch's, then the next configuration, and the whole list ROUNDS times
# (A B A B …: drift on the machine hits both alike). Prints one row per configuration and mode: median tokens/s over
# the rounds, the highest peak RSS, and ours/PyTorch ratios. Run it on an idle machine: anything else running
# (a build, tests) is noise. Raw JSON lines go to $OUT (default /tmp/compare-pytorch.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
PRESET=mini   # mini_train_step.py builds mini (4 layers, hidden 256, 4 heads, FFN 1024)
MODES=${MODES:-train}
# pattern:seq:batch:vocab
CONFIGS=${CONFIGS:-"bert:128:32:30522 hybrid:128:32:30522 ponet:128:32:30522 bert:128:32:8192 hybrid:128:32:8192 ponet:128:32:8192 bert:512:8:8192 hybrid:512:8:8192 ponet:512:8:8192 bert:512:8:30522 hybrid:512:8:30522 ponet:512:8:30522"}
OUT=${OUT:-/tmp/compare-pytorch.jsonl}

# Debian's interpreter first: a pyenv or venv python3 earlier on the PATH usually lacks torch.
PYTHON=${PYTHON:-$(for p in /usr/bin/python3 python3; do "$p" -c 'import torch' 2>/dev/null && { echo "$p"; break; }; done)}
[ -n "$PYTHON" ] || { echo "python3 with torch is needed: apt-get install python3-torch" >&2; exit 1; }
echo "PyTorch: $("$PYTHON" -c 'import torch; print(torch.__version__)') ($PYTHON), BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)" >&2
dotnet build src/HybridBert.Cli -c Release -v q -nologo >/dev/null
HB=src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli

letters() { case $1 in bert) echo AAAA ;; ponet) echo PPPP ;; hybrid) echo PPAA ;; *) echo "$1" ;; esac; }

: > "$OUT"
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    for config in $CONFIGS; do
      IFS=: read -r pattern seq batch vocab <<<"$config"
      echo "round $round/$ROUNDS: $mode $pattern seq $seq batch $batch vocab $vocab" >&2
      if [ -n "${BEFORE:-}" ]; then
        "$BEFORE" bench --json --preset "$PRESET" --patterns "$pattern" --seq "$seq" --batch "$batch" --vocab-size "$vocab" \
          --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" --mode "$mode" ${BENCH_ARGS:-} \
          | sed "s/^{/{\"side\":\"before\",\"vocab\":$vocab,\"round\":$round,/" >> "$OUT"
      fi
      "$HB" bench --json --preset "$PRESET" --patterns "$pattern" --seq "$seq" --batch "$batch" --vocab-size "$vocab" \
        --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" --mode "$mode" ${BENCH_ARGS:-} \
        | sed "s/^{/{\"side\":\"ours\",\"vocab\":$vocab,\"round\":$round,/" >> "$OUT"
      "$PYTHON" benchmarks/pytorch/mini_train_step.py --pattern "$(letters "$pattern")" --seq "$seq" --batch "$batch" --vocab "$vocab" \
        --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" --mode "$mode" \
        | sed "s/^{/{\"side\":\"pytorch\",\"vocab\":$vocab,\"round\":$round,/" >> "$OUT"
    done
  done
done

"$PYTHON" - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = []
for r in rows:
    k = (r["mode"], r["layer_pattern"], r["seq"], r["batch"], r["vocab"])
    if k not in keys: keys.append(k)
sides = ["ours", "pytorch"] + (["before"] if any(r["side"] == "before" for r in rows) else [])
before = "before" in sides
print("| mode | pattern | seq×batch | vocab | ours tok/s | PyTorch tok/s | ratio | ours MiB | PyTorch MiB | MiB ratio |"
      + (" before ratio | before MiB ratio |" if before else "") + " rounds |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if before else "") + "---:|")
for k in keys:
    side = {s: [r for r in rows if (r["mode"], r["layer_pattern"], r["seq"], r["batch"], r["vocab"]) == k and r["side"] == s and r.get("status", "ok") == "ok"] for s in sides}
    if any(not side[s] for s in sides):
        print(f"| {k[0]} | {k[1]} | {k[2]}×{k[3]} | {k[4]} | failed | | | | | |" + (" | |" if before else "") + " |"); continue
    tps = {s: statistics.median(r["tokens_per_s"] for r in side[s]) for s in side}
    mib = {s: max(r["peak_rss_mib"] for r in side[s]) for s in side}
    extra = f" {tps['before'] / tps['pytorch']:.2f} | {mib['before'] / mib['pytorch']:.2f} |" if before else ""
    print(f"| {k[0]} | {k[1]} | {k[2]}×{k[3]} | {k[4]} | {tps['ours']:,.0f} | {tps['pytorch']:,.0f} | {tps['ours'] / tps['pytorch']:.2f} | "
          f"{mib['ours']:,.0f} | {mib['pytorch']:,.0f} | {mib['ours'] / mib['pytorch']:.2f} |{extra} {len(side['ours'])} |")
PY
