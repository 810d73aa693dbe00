"""Which BLAS PyTorch's matrix products go through here, and whether they really use the threads it is given.

PyTorch (Debian's python3-torch) multiplies through the system's libblas.so.3, chosen by update-alternatives. Some
BLAS builds ignore torch.set_num_threads (BLIS reads its own BLIS_NUM_THREADS), which leaves a "2-thread" baseline
multiplying on one core. This times a large fp32 GEMM at 1 thread and at --threads, in this process, the way
mini_train_step.py sets its threads, and prints one JSON line:

    {"blas": "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3", ..., "threads": 2, "gflops_1": 96.7, "gflops_n": 210.2, "speedup": 2.17}

Exit status 1 when the n-thread GEMM is not at least --min-speedup times the 1-thread one (a baseline that would
not be PyTorch at its best). Usage: python3 blas_check.py [--threads 2] [--size 2048] [--min-speedup 1.3]

OpenBLAS picks its kernels by the CPU it recognises, and an older OpenBLAS falls back to a generic one on a CPU it
does not know: Debian 12's OpenBLAS 0.3.21 calls a recent Intel Xeon (AVX-512, AMX) "Prescott" and multiplies with SSE3
kernels, 60 GFLOP/s on 2 threads where its SkylakeX kernels reach 280 (measured 2026-12-07). So when the BLAS is
OpenBLAS and OPENBLAS_CORETYPE is not set, the GEMM is also timed in a child process for each core type below, and
the fastest at --threads is the baseline: "coretype" in the JSON line (null when OpenBLAS's own choice was fastest),
which compare-pytorch.sh passes to PyTorch as OPENBLAS_CORETYPE. A core type the CPU cannot run fails in its child
and is skipped.
"""
import argparse, json, os, re, subprocess, sys, time
import torch

# OpenBLAS core types worth trying on x86-64 (0.3.21's names): AVX2, AVX-512, AVX-512 + bf16, AMD Zen.
CORETYPES = ["Haswell", "SkylakeX", "Cooperlake", "Zen"]


def loaded_blas():
    """The BLAS shared objects mapped into this process (resolved paths), from /proc/self/maps."""
    names = ("libblas", "libopenblas", "libblis", "libmkl", "libcblas")
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if any(n in os.path.basename(path) for n in names) and path not in found:
                found.append(path)
    # libblas.so.3 is the one PyTorch links (Debian's alternative); the rest are what it pulls in.
    return sorted(found, key=lambda f: not os.path.basename(f).startswith("libblas"))


def gflops(size, threads, repeats):
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up: thread pools, page faults
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def coretype_gflops(coretype, a):
    """The GEMM timed in a child process with OPENBLAS_CORETYPE=coretype: (kernel OpenBLAS reports, 1-thread, n-thread
    GFLOP/s), or None when the child fails (a core type this CPU cannot run)."""
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype, OPENBLAS_VERBOSE="2")
    args = [sys.executable, __file__, "--child", "--threads", str(a.threads), "--size", str(a.size), "--repeats", str(a.repeats)]
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    cores = re.findall(r"Core: (\w+)", done.stdout + done.stderr)
    one, many = json.loads(done.stdout.strip().splitlines()[-1])
    return (cores[-1] if cores else coretype), one, many


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-speedup", type=float, default=1.3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    one = gflops(a.size, 1, a.repeats)
    many = gflops(a.size, a.threads, a.repeats)
    if a.child:
        print(json.dumps([one, many]))
        return
    blas = loaded_blas()
    row = dict(blas=blas[0] if blas else "none found", blas_all=blas, torch=torch.__version__, threads=a.threads,
               gflops_1=round(one, 1), gflops_n=round(many, 1), speedup=round(many / one, 2), coretype=None, coretypes={})
    if any("openblas" in os.path.basename(b) for b in blas) and "OPENBLAS_CORETYPE" not in os.environ:
        for coretype in CORETYPES:
            timed = coretype_gflops(coretype, a)
            if timed is None:
                row["coretypes"][coretype] = None
                continue
            kernel, one_c, many_c = timed
            row["coretypes"][coretype] = dict(kernel=kernel, gflops_1=round(one_c, 1), gflops_n=round(many_c, 1))
            if many_c > many * 1.05:   # clearly faster than the best so far
                one, many, row["coretype"] = one_c, many_c, coretype
        row.update(gflops_1=round(one, 1), gflops_n=round(many, 1), speedup=round(many / one, 2))
    elif "OPENBLAS_CORETYPE" in os.environ:
        row["coretype"] = os.environ["OPENBLAS_CORETYPE"]
    print(json.dumps(row))
    if a.threads > 1 and many < a.min_speedup * one:
        print(f"PyTorch's {a.threads}-thread GEMM is only {many / one:.2f}x its 1-thread GEMM ({row['blas']}): its BLAS is not "
              f"using the threads, so it is not PyTorch at its best. Install OpenBLAS (apt-get install libopenblas0-openmp) "
              f"and select it: update-alternatives --config libblas.so.3-x86_64-linux-gnu", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
