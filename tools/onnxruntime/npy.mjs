// .npy reading and writing for the ONNX Runtime runner (format versions 1.0,
// 2.0 and 3.0 read; 1.0 written), little-endian C-order arrays only.
// The layout is NumPy's documented one: the magic "\x93NUMPY", a major and a
// minor version byte, a header length (uint16 in 1.0, uint32 in 2.0/3.0),
// a Python dict literal with 'descr', 'fortran_order' and 'shape', padded
// with spaces and ended by a newline, then the raw data.

import { readFileSync, writeFileSync, renameSync } from 'node:fs';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

// NumPy type strings this runner reads and writes, with the ONNX Runtime
// tensor type and the typed array that holds them.
const DTYPES = {
  '<f4': { ort: 'float32', array: Float32Array },
  '<f8': { ort: 'float64', array: Float64Array },
  '<i8': { ort: 'int64', array: BigInt64Array },
  '<i4': { ort: 'int32', array: Int32Array },
  '<i2': { ort: 'int16', array: Int16Array },
  '|i1': { ort: 'int8', array: Int8Array },
  '|u1': { ort: 'uint8', array: Uint8Array },
  '<u2': { ort: 'uint16', array: Uint16Array },
  '|b1': { ort: 'bool', array: Uint8Array },
};

const ORT_TO_NPY = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v.ort, k]));

/** NpyError is a malformed or unsupported .npy file; the message names the file and byte offset. */
export class NpyError extends Error {}

function fail(file, offset, msg) {
  throw new NpyError(`${file} (byte ${offset}): ${msg}`);
}

/**
 * readNpy reads the .npy file at path.
 * @returns {{dtype: string, ortType: string, shape: number[], data: ArrayLike}}
 */
export function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    fail(path, 0, 'not a .npy file (no \\x93NUMPY magic)');
  }
  const major = buf[6];
  let hlen;
  let start;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(path, 8, 'truncated header length');
    hlen = buf.readUInt32LE(8);
    start = 12;
  } else {
    fail(path, 6, `format version ${major}.${buf[7]} is not 1, 2 or 3`);
  }
  const end = start + hlen;
  if (end > buf.length) fail(path, 8, `header declares ${hlen} bytes, the file has ${buf.length - start}`);
  const header = buf.subarray(start, end).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) fail(path, start, `unreadable header ${JSON.stringify(header.trim())}`);
  if (fortran[1] === 'True') fail(path, start, 'Fortran-order arrays are not supported; save in C order');
  const dtype = descr[1];
  const info = DTYPES[dtype];
  if (!info) fail(path, start, `element type ${dtype} is not one of ${Object.keys(DTYPES).join(', ')}`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const d = Number(s);
    if (!Number.isSafeInteger(d) || d < 0) fail(path, start, `bad dimension ${JSON.stringify(s)} in shape`);
    return d;
  });
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = count * info.array.BYTES_PER_ELEMENT;
  if (!Number.isSafeInteger(bytes) || bytes !== buf.length - end) {
    fail(path, end, `shape [${shape}] of ${dtype} needs ${bytes} data bytes, the file has ${buf.length - end}`);
  }
  // Copy into an aligned buffer of its own: the data offset need not be a
  // multiple of the element size.
  const raw = new ArrayBuffer(bytes);
  new Uint8Array(raw).set(buf.subarray(end));
  return { dtype, ortType: info.ort, shape, data: new info.array(raw) };
}

/**
 * writeNpy writes a typed array as a format-1.0 .npy file (to a temporary
 * name, then renamed).
 * @param {string} path
 * @param {string} ortType an ONNX Runtime tensor type ('float32', 'int64', ...)
 * @param {number[]} shape
 * @param {ArrayBufferView} data
 */
export function writeNpy(path, ortType, shape, data) {
  const dtype = ORT_TO_NPY[ortType];
  if (!dtype) throw new NpyError(`${path}: cannot write ONNX Runtime type ${ortType} as .npy`);
  let dims;
  if (shape.length === 0) dims = '()';
  else if (shape.length === 1) dims = `(${shape[0]},)`;
  else dims = `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${dims}, }`;
  const total = 10 + dict.length + 1;
  const pad = (64 - (total % 64)) % 64;
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length + pad + 1, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([head, Buffer.from(dict + ' '.repeat(pad) + '\n', 'latin1'), body]));
  renameSync(tmp, path);
}
