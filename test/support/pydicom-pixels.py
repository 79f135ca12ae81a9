"""Reference sample values for the pixel geometry tests, computed with pydicom and numpy.

Reads file names (one per line) from stdin and prints one JSON document
{ "files": { path: { "shape": [frames, rows, columns, samples], "sha256": hex, "first": [...] } or
{ "error": "..." } } }, where sha256 is over the stored values as float64 little endian, in the
order frame, row, column, sample. pydicom decodes the bytes (byte order, planar configuration,
frames); the stored value is then taken from the Bits Stored bits ending at High Bit, two's
complement when Pixel Representation is 1 (pydicom's pixel_array leaves the other bits as stored).
"""
import hashlib
import json
import sys
import warnings

import numpy as np
import pydicom

warnings.simplefilter("ignore")


def values(path):
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(getattr(ds, "SamplesPerPixel", 1))
    arr = arr.reshape(frames, ds.Rows, ds.Columns, spp)
    bits_allocated, bits_stored = int(ds.BitsAllocated), int(ds.BitsStored)
    low_bit = int(ds.HighBit) - bits_stored + 1
    words = arr.astype(np.int64) & ((1 << bits_allocated) - 1)
    codes = (words >> low_bit) & ((1 << bits_stored) - 1)
    if int(ds.PixelRepresentation) == 1:
        codes = np.where(codes >= (1 << (bits_stored - 1)), codes - (1 << bits_stored), codes)
    flat = codes.astype("<f8").ravel()
    return {
        "shape": list(arr.shape),
        "sha256": hashlib.sha256(flat.tobytes()).hexdigest(),
        "first": [int(v) for v in codes.ravel()[:8]],
    }


def main():
    out = {}
    for line in sys.stdin.read().splitlines():
        if not line:
            continue
        try:
            out[line] = values(line)
        except Exception as exc:  # noqa: BLE001
            out[line] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump({"files": out}, sys.stdout)


main()
