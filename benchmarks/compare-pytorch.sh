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
# PyTorch is Debian's python3-torch (`apt-get install python3-torch libopenblas0-openmp`), running
# benchmarks/pytorch/mini_train_step.py, an independent textbook implementation of the same model. Its matrix
# products go through the system BLAS (`update-alternatives --display libblas.so.3-x86_64-linux-gnu`), so the
# baseline is only as good as that library. Measured here (2026-12-06, mini AAAA 128×32, vocab 30522, 2 threads):
# OpenBLAS-openmp is the fastest installable; BLIS-openmp, which earlier versions of this script recommended, leaves
# PyTorch's GEMMs on one core (PyTorch does not set BLIS's thread count), and Debian's reference BLAS is several times
# slower still. Before any timing, benchmarks/pytorch/blas_check.py times a 2048² GEMM at 1 and $THREADS threads in a
# PyTorch process and the script stops unless the threaded one is ≥ 1.3× faster; it prints which BLAS that was. With
# OpenBLAS it also times OpenBLAS's other kernel sets (OPENBLAS_CORETYPE) and runs PyTorch on the fastest: Debian 12's
# OpenBLAS does not know recent Intel Xeons and would multiply with generic SSE3 kernels there (60 against 280 GFLOP/s).
# Each configuration runs in a fresh process on both
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
BLAS_CHECK=$("$PYTHON" benchmarks/pytorch/blas_check.py --threads "$THREADS") || exit 1
echo "PyTorch: $("$PYTHON" -c 'import torch; print(torch.__version__)') ($PYTHON); GEMM check: $BLAS_CHECK" >&2
# The OpenBLAS kernels the check found fastest (an older OpenBLAS may not know this CPU and fall back to generic ones).
CORETYPE=$(echo "$BLAS_CHECK" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin).get("coretype") or "")')
[ -z "$CORETYPE" ] || echo "PyTorch runs with OPENBLAS_CORETYPE=$CORETYPE (faster than OpenBLAS's own choice here)" >&2
dotnet build src/HybridBert.Cli -c Release -v q -nologo >/dev/null
HB=src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli

letters() { case $1 in bert) echo AAAA ;; ponet) echo PPPP ;; hybrid) echo PPAA ;; *) echo "$1" ;; esac; }

: > "$OUT"
echo "$BLAS_CHECK" | sed 's/^{/{"side":"blas_check",/' >> "$OUT"
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
      ${CORETYPE:+env OPENBLAS_CORETYPE=$CORETYPE} "$PYTHON" benchmarks/pytorch/mini_train_step.py --pattern "$(letters "$pattern")" --seq "$seq" --batch "$batch" --vocab "$vocab" \
        --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" --mode "$mode" \
        | sed "s/^{/{\"side\":\"pytorch\",\"vocab\":$vocab,\"round\":$round,/" >> "$OUT"
    done
  done
done

"$PYTHON" - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
check = next((r for r in rows if r["side"] == "blas_check"), None)
if check: print(f"PyTorch's BLAS: {check['blas']}" + (f" (OPENBLAS_CORETYPE={check['coretype']})" if check.get("coretype") else "")
               + f", 2048² GEMM {check['gflops_1']} GFLOP/s on 1 thread, {check['gflops_n']} on {check['threads']}\n")
rows = [r for r in rows if r["side"] != "blas_check"]
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
