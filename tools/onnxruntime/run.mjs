#!/usr/bin/env node
// The ONNX Runtime runner: ptqspec's Go tests, step definitions and `ptq
// bench` call it as a subprocess (internal/ortrun) to run an .onnx file in
// ONNX Runtime 1.30 (onnxruntime-node, CPU execution provider).
//
//   node run.mjs info  --model M.onnx
//       prints {"inputs": [{name, type, shape}], "outputs": [...]}
//   node run.mjs run   --model M.onnx --input [NAME=]X.npy ... --out-dir DIR
//                      [--batch N] [--threads T]
//       runs the model on the .npy inputs (split along the first dimension
//       into batches of N when N > 0; outputs are concatenated back), writes
//       DIR/output-K.npy for the K-th model output, and prints
//       {"outputs": [{name, file, type, shape}]}
//   node run.mjs bench --model M.onnx --input [NAME=]X.npy --batch B --threads T
//                      --warmup W --iterations I [--labels L.npy]
//       cuts X into full batches of B (it needs at least B samples), runs W
//       untimed batches, then times I batches (cycling through the data) in
//       this process, one after the other; prints {images_per_s,
//       ms_per_batch, ms_per_batch_median, ms_per_batch_min, ...} and, with
//       --labels, the top-1 accuracy of an untimed pass over every sample.
//
// Every result is one JSON object on the last line of standard output.
// Errors go to standard error as one line starting "ortrunner:"; the exit
// status is 2 for a usage error and 1 for any other failure.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { readNpy, writeNpy } from './npy.mjs';

const require = createRequire(import.meta.url);

class UsageError extends Error {}

function parseArgs(argv) {
  const [cmd, ...rest] = argv;
  if (!['info', 'run', 'bench'].includes(cmd)) {
    throw new UsageError(`unknown or missing command ${JSON.stringify(cmd ?? '')}; want info, run or bench`);
  }
  const opts = { cmd, inputs: [], batch: 0, threads: 1, warmup: 10, iterations: 100 };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const val = rest[i + 1];
    if (val === undefined) throw new UsageError(`flag ${flag} needs a value`);
    i++;
    switch (flag) {
      case '--model': opts.model = val; break;
      case '--input': opts.inputs.push(val); break;
      case '--out-dir': opts.outDir = val; break;
      case '--labels': opts.labels = val; break;
      case '--batch': case '--threads': case '--warmup': case '--iterations': {
        const n = Number(val);
        if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`flag ${flag} wants a non-negative integer, got ${JSON.stringify(val)}`);
        opts[flag.slice(2)] = n;
        break;
      }
      default: throw new UsageError(`unknown flag ${flag}`);
    }
  }
  if (!opts.model) throw new UsageError('--model is required');
  if (cmd === 'run' && !opts.outDir) throw new UsageError('run needs --out-dir');
  if (cmd === 'bench') {
    if (opts.inputs.length !== 1) throw new UsageError('bench needs exactly one --input');
    if (opts.batch < 1) throw new UsageError('bench needs --batch >= 1');
    if (opts.iterations < 1) throw new UsageError('bench needs --iterations >= 1');
  }
  if (opts.threads < 1) throw new UsageError('--threads must be at least 1');
  return opts;
}

async function openSession(ort, opts) {
  try {
    return await ort.InferenceSession.create(opts.model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new Error(`cannot load model ${opts.model}: ${e.message}`);
  }
}

function describe(session) {
  const meta = (names, md) => names.map((name, i) => {
    const m = md?.[i] ?? {};
    return { name, type: m.type ?? null, shape: m.shape ?? null };
  });
  return { inputs: meta(session.inputNames, session.inputMetadata), outputs: meta(session.outputNames, session.outputMetadata) };
}

// feedsFrom reads the --input arguments into {name: {ortType, shape, data, file}}.
function feedsFrom(session, specs) {
  const feeds = {};
  specs.forEach((spec, i) => {
    let name;
    let file = spec;
    const eq = spec.indexOf('=');
    if (eq > 0 && !spec.slice(0, eq).includes('/')) {
      name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
    } else if (specs.length === 1 && session.inputNames.length === 1) {
      [name] = session.inputNames;
    } else {
      name = session.inputNames[i];
    }
    if (!session.inputNames.includes(name)) {
      throw new UsageError(`model ${JSON.stringify(session.inputNames)} has no input ${JSON.stringify(name)} (for ${file})`);
    }
    const arr = readNpy(file);
    feeds[name] = { ...arr, file };
  });
  for (const n of session.inputNames) {
    if (!feeds[n]) throw new UsageError(`no --input for model input ${JSON.stringify(n)}`);
  }
  return feeds;
}

function rowLength(shape) {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

// sliceFeeds makes ONNX Runtime tensors for samples [lo, hi) of every input.
function sliceFeeds(ort, feeds, lo, hi) {
  const out = {};
  for (const [name, f] of Object.entries(feeds)) {
    const rl = rowLength(f.shape);
    const data = f.shape.length === 0 ? f.data : f.data.subarray(lo * rl, hi * rl);
    const shape = f.shape.length === 0 ? [] : [hi - lo, ...f.shape.slice(1)];
    out[name] = new ort.Tensor(f.ortType, data, shape);
  }
  return out;
}

function sampleCount(feeds) {
  const counts = new Set(Object.values(feeds).map((f) => (f.shape.length ? f.shape[0] : -1)));
  return counts.size === 1 ? [...counts][0] : -1;
}

async function runCmd(ort, opts) {
  const session = await openSession(ort, opts);
  const feeds = feedsFrom(session, opts.inputs);
  const n = sampleCount(feeds);
  let ranges = [[0, n]];
  if (opts.batch > 0) {
    if (n < 0) throw new UsageError('--batch needs every input to have the same first dimension');
    ranges = [];
    for (let lo = 0; lo < n; lo += opts.batch) ranges.push([lo, Math.min(n, lo + opts.batch)]);
    if (ranges.length === 0) ranges = [[0, 0]];
  }
  const parts = {};
  for (const [lo, hi] of ranges) {
    let res;
    try {
      res = await session.run(n < 0 ? sliceFeeds(ort, feeds, 0, 0) : sliceFeeds(ort, feeds, lo, hi));
    } catch (e) {
      throw new Error(`running ${opts.model} on samples ${lo}..${hi}: ${e.message}`);
    }
    for (const name of session.outputNames) (parts[name] ??= []).push(res[name]);
  }
  mkdirSync(opts.outDir, { recursive: true });
  const outputs = session.outputNames.map((name, k) => {
    const ts = parts[name];
    const type = ts[0].type;
    let shape = [...ts[0].dims];
    let data = ts[0].data;
    if (ts.length > 1) {
      const total = ts.reduce((a, t) => a + t.data.length, 0);
      data = new data.constructor(total);
      let off = 0;
      for (const t of ts) {
        data.set(t.data, off);
        off += t.data.length;
      }
      shape = [ts.reduce((a, t) => a + t.dims[0], 0), ...shape.slice(1)];
    }
    const file = join(opts.outDir, `output-${k}.npy`);
    writeNpy(file, type, shape, data);
    return { name, file, type, shape };
  });
  return { outputs };
}

function argmaxRows(data, rows, cols) {
  const out = new Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[r * cols + c] > data[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}

async function benchCmd(ort, opts) {
  const session = await openSession(ort, opts);
  const feeds = feedsFrom(session, opts.inputs);
  const n = sampleCount(feeds);
  const B = opts.batch;
  if (n < B) throw new UsageError(`bench needs at least --batch ${B} samples, the input has ${n}`);
  const full = Math.floor(n / B);
  const batches = [];
  for (let k = 0; k < full; k++) batches.push(sliceFeeds(ort, feeds, k * B, (k + 1) * B));
  const out0 = session.outputNames[0];
  for (let i = 0; i < opts.warmup; i++) await session.run(batches[i % full]);
  const times = new Float64Array(opts.iterations);
  const t0 = performance.now();
  for (let i = 0; i < opts.iterations; i++) {
    const s = performance.now();
    await session.run(batches[i % full]);
    times[i] = performance.now() - s;
  }
  const elapsed = performance.now() - t0;
  const sorted = Array.from(times).sort((a, b) => a - b);
  const result = {
    model: opts.model,
    batch: B,
    threads: opts.threads,
    warmup: opts.warmup,
    iterations: opts.iterations,
    samples: n,
    seconds: elapsed / 1000,
    images_per_s: (opts.iterations * B) / (elapsed / 1000),
    ms_per_batch: elapsed / opts.iterations,
    ms_per_batch_median: sorted[Math.floor(sorted.length / 2)],
    ms_per_batch_min: sorted[0],
  };
  if (opts.labels) {
    const lab = readNpy(opts.labels);
    if (lab.shape.length !== 1 || lab.shape[0] !== n) {
      throw new UsageError(`labels ${opts.labels} have shape [${lab.shape}], want [${n}]`);
    }
    let correct = 0;
    for (let lo = 0; lo < n; lo += B) {
      const hi = Math.min(n, lo + B);
      const res = await session.run(sliceFeeds(ort, feeds, lo, hi));
      const t = res[out0];
      const cols = t.dims[t.dims.length - 1];
      const pred = argmaxRows(t.data, hi - lo, cols);
      for (let r = 0; r < hi - lo; r++) if (pred[r] === Number(lab.data[lo + r])) correct++;
    }
    result.accuracy = correct / n;
  }
  return result;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ortrunner: ${e.message}\n`);
    process.exit(2);
  }
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(`ortrunner: onnxruntime-node is not installed next to run.mjs (run \`make tools\`): ${e.message}\n`);
    process.exit(1);
  }
  try {
    let result;
    if (opts.cmd === 'info') result = describe(await openSession(ort, opts));
    else if (opts.cmd === 'run') result = await runCmd(ort, opts);
    else result = await benchCmd(ort, opts);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (e) {
    process.stderr.write(`ortrunner: ${e.message}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}

await main();
