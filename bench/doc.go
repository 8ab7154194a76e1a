// Package bench keeps the speed of ptqspec's kernels and models from
// regressing unnoticed: it times a fixed set of workloads, writes their
// median times to a baseline file and compares a later run with it.
//
// # Overview
//
// Cases returns the workloads: int8 GEMM kernels (packed, the shapes of
// the MNIST models' layers) and model inference (MLP and SmallCNN in FP32,
// static int8 and dynamic int8, batch 64). Measure times them in rounds;
// within a round a case's calls alternate with calls of the Reference
// workload, a pure-Go loop that uses no code of this module, and the
// round's ratio is the case's time over the reference's, in the same
// process and the same moments: a slower machine, or another program's
// load, slows both alike, so the ratio stays, while a change that slows a
// kernel raises its ratio. The median over the rounds is kept.
//
//	res, err := bench.Measure(bench.Cases(), bench.Options{})
//	base := res.Baseline(time.Now())
//	regs := bench.Compare(base, res, bench.MaxSlowdown)
//
// Times are CPU time of the process where the platform gives it (Linux),
// so that waiting for a CPU that another program holds does not count.
// Measure runs everything in one process with GOMAXPROCS 1, so a
// workload that would use two threads does not suffer more from another
// program's load than the single-threaded reference does.
//
// `make bench-baseline` writes bench/baseline.json (schema
// "ptqspec.bench/v1"); `make bench-check` measures again and fails when a
// case's ratio is more than MaxSlowdown (1.5) times its baseline ratio.
// Options.Slowdown (the environment variable PTQSPEC_BENCH_SLOWDOWN of the
// benchcheck command, "name=2") repeats a case's work, to show that the
// check catches a slowdown.
package bench
