#!/usr/bin/env node
// ort_run.js — runs an ONNX model on ONNX Runtime (the peer onyx is measured against).
//
// The peer is the CPU build of ONNX Runtime from the npm package onnxruntime-node
// (installed with `npm install --ignore-scripts` in bench/, see bench/README.md). This
// script is its command line: it loads a model, reads inputs from .npy files, runs,
// writes every output as DIR/<name>.npy and, with --repeat, times the runs so that
// compare_outputs.py can put ORT's numbers beside onyx's. The .npy reader and writer
// are here because Node has none and they are a few dozen lines.
//
// Usage: node bench/ort_run.js MODEL.onnx [-i NAME=FILE.npy]... [-o DIR]
//          [--threads T] [--opt all|extended|basic|disabled] [--repeat N] [--warmup W]
//          [--json] [--info]
'use strict';

const fs = require('fs');
const path = require('path');

// --- .npy ---------------------------------------------------------------------------
// descr (numpy dtype string, little-endian or byte-order-free) <-> ORT type and array.
const DTYPES = [
  { descr: ['<f4'], ort: 'float32', Array: Float32Array },
  { descr: ['<f8'], ort: 'float64', Array: Float64Array },
  { descr: ['<f2'], ort: 'float16', Array: Uint16Array },
  { descr: ['<i8'], ort: 'int64', Array: BigInt64Array },
  { descr: ['<u8'], ort: 'uint64', Array: BigUint64Array },
  { descr: ['<i4'], ort: 'int32', Array: Int32Array },
  { descr: ['<u4'], ort: 'uint32', Array: Uint32Array },
  { descr: ['<i2'], ort: 'int16', Array: Int16Array },
  { descr: ['<u2'], ort: 'uint16', Array: Uint16Array },
  { descr: ['|i1', '<i1'], ort: 'int8', Array: Int8Array },
  { descr: ['|u1', '<u1'], ort: 'uint8', Array: Uint8Array },
  { descr: ['|b1', '<b1'], ort: 'bool', Array: Uint8Array },
];

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    throw new Error(`${file}: not a .npy file`);
  }
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: bad .npy header: ${header}`);
  if (fortran[1] === 'True') throw new Error(`${file}: Fortran-order arrays are not supported`);
  const dt = DTYPES.find((d) => d.descr.includes(descr[1]));
  if (!dt) throw new Error(`${file}: dtype '${descr[1]}' is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  const bytes = count * dt.Array.BYTES_PER_ELEMENT;
  if (buf.length - off < bytes) throw new Error(`${file}: truncated (${buf.length - off} of ${bytes} bytes)`);
  // Copy into a fresh, aligned buffer: typed arrays need element-aligned offsets.
  const data = new dt.Array(count);
  Buffer.from(data.buffer).set(buf.subarray(off, off + bytes));
  return { type: dt.ort, dims, data: dt.ort === 'bool' ? Uint8Array.from(data, (v) => (v ? 1 : 0)) : data };
}

function writeNpy(file, type, dims, data) {
  const dt = DTYPES.find((d) => d.ort === type);
  if (!dt) throw new Error(`${file}: cannot write ORT type '${type}'`);
  let payload;
  if (type === 'bool') {
    payload = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    const arr = data instanceof dt.Array ? data : dt.Array.from(data);
    payload = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${dt.descr[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // numpy pads the header with spaces so the data starts on a 64-byte boundary.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), payload]));
}

// File name for a tensor name: ONNX names may hold '/', ':' and such.
function fileName(name) {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.npy';
}

// --- command line -----------------------------------------------------------------
function usage(code) {
  const msg = fs.readFileSync(__filename, 'utf8').split('\n')
    .filter((l) => l.startsWith('// Usage:') || l.startsWith('//          ')).map((l) => l.slice(3)).join('\n');
  (code ? process.stderr : process.stdout).write(msg + '\n');
  process.exit(code);
}

function parseArgs(argv) {
  const a = { model: null, inputs: {}, out: null, threads: 1, opt: 'all', repeat: 0, warmup: 3, json: false, info: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) { console.error(`ort_run: ${k} needs a value`); usage(2); }
      return argv[++i];
    };
    if (k === '-i' || k === '--input') {
      const v = val();
      const eq = v.indexOf('=');
      if (eq <= 0) { console.error(`ort_run: -i expects NAME=FILE.npy, got '${v}'`); usage(2); }
      a.inputs[v.slice(0, eq)] = v.slice(eq + 1);
    } else if (k === '-o' || k === '--output-dir') a.out = val();
    else if (k === '--threads' || k === '-t') a.threads = parseInt(val(), 10);
    else if (k === '--opt') a.opt = val();
    else if (k === '--repeat' || k === '-n') a.repeat = parseInt(val(), 10);
    else if (k === '--warmup') a.warmup = parseInt(val(), 10);
    else if (k === '--json') a.json = true;
    else if (k === '--info') a.info = true;
    else if (k === '-h' || k === '--help') usage(0);
    else if (!k.startsWith('-') && !a.model) a.model = k;
    else { console.error(`ort_run: unknown argument '${k}'`); usage(2); }
  }
  if (!a.model) usage(2);
  if (!['all', 'extended', 'basic', 'disabled'].includes(a.opt)) {
    console.error(`ort_run: --opt must be all, extended, basic or disabled`); usage(2);
  }
  return a;
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const idx = (sorted.length - 1) * p;
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - lo);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: args.opt,
  });

  if (args.info) {
    const meta = (list) => (list || []).map((m) => (m.isTensor ? `${m.name}: ${m.type} [${m.shape.join(',')}]` : m.name));
    console.log(`ort ${ort.env.versions.node}: ${args.model}`);
    console.log(`inputs:\n  ${(session.inputMetadata ? meta(session.inputMetadata) : session.inputNames).join('\n  ')}`);
    console.log(`outputs:\n  ${(session.outputMetadata ? meta(session.outputMetadata) : session.outputNames).join('\n  ')}`);
    return;
  }

  const feeds = {};
  for (const name of session.inputNames) {
    if (!(name in args.inputs)) throw new Error(`model input '${name}' has no -i ${name}=FILE.npy`);
    const t = readNpy(args.inputs[name]);
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  for (const name of Object.keys(args.inputs)) {
    if (!session.inputNames.includes(name)) throw new Error(`-i ${name}: the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
  }

  const results = await session.run(feeds);
  if (args.out) {
    fs.mkdirSync(args.out, { recursive: true });
    for (const name of session.outputNames) {
      const t = results[name];
      writeNpy(path.join(args.out, fileName(name)), t.type, t.dims, t.data);
    }
  }
  if (!args.json && !args.repeat) {
    for (const name of session.outputNames) {
      const t = results[name];
      console.log(`${name}: ${t.type} [${t.dims.join(',')}]`);
    }
  }

  if (args.repeat > 0) {
    for (let i = 0; i < args.warmup; i++) await session.run(feeds);
    const ms = [];
    for (let i = 0; i < args.repeat; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const sorted = ms.slice().sort((x, y) => x - y);
    const stats = {
      runtime: `onnxruntime ${ort.env.versions.node}`, model: args.model, threads: args.threads, opt: args.opt,
      runs: ms.length, p50_ms: percentile(sorted, 0.5), p90_ms: percentile(sorted, 0.9),
      mean_ms: ms.reduce((a, b) => a + b, 0) / ms.length, min_ms: sorted[0], max_ms: sorted[sorted.length - 1],
    };
    if (args.json) console.log(JSON.stringify(stats));
    else {
      const f = (v) => v.toFixed(3);
      console.log(`ort ${ort.env.versions.node} threads=${stats.threads} runs=${stats.runs}: ` +
        `p50 ${f(stats.p50_ms)} ms  p90 ${f(stats.p90_ms)} ms  mean ${f(stats.mean_ms)} ms  min ${f(stats.min_ms)} ms`);
    }
  }
  await session.release();
}

main().catch((e) => {
  console.error(`ort_run: ${e.message || e}`);
  process.exit(1);
});
