"""Reference pixel values of compressed files, decoded by pydicom (with the handlers installed).

Reads file names (one per line) from stdin and prints one JSON document
{ "pydicom": version, "files": { path: { "shape": [frames, rows, columns, samples],
"photometric": ..., "values": base64 } or { "error": "..." } } }, where values are the stored
values as float64 little endian in the order frame, row, column, sample: the Bits Stored bits
ending at High Bit, two's complement when Pixel Representation is 1. JPEG colour data that pydicom
returns as YCbCr (YBR_FULL, YBR_FULL_422) is converted to RGB with pydicom's own
convert_color_space, which is what a decoder gives (PS3.5 8.2.1); JPEG 2000 YBR_RCT / YBR_ICT
data is already RGB once decoded.
"""
import base64
import json
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import convert_color_space

warnings.simplefilter("ignore")


def values(path):
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(getattr(ds, "SamplesPerPixel", 1))
    photometric = str(ds.PhotometricInterpretation)
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if photometric in ("YBR_FULL", "YBR_FULL_422") and syntax.startswith("1.2.840.10008.1.2.4.5"):
        arr = convert_color_space(arr, photometric, "RGB", per_frame=frames > 1)
        photometric = "RGB"
    if photometric in ("YBR_RCT", "YBR_ICT"):
        photometric = "RGB"
    arr = arr.reshape(frames, ds.Rows, ds.Columns, spp)
    bits_allocated, bits_stored = int(ds.BitsAllocated), int(ds.BitsStored)
    low_bit = int(ds.HighBit) - bits_stored + 1
    words = arr.astype(np.int64) & ((1 << bits_allocated) - 1)
    codes = (words >> low_bit) & ((1 << bits_stored) - 1)
    if int(ds.PixelRepresentation) == 1:
        codes = np.where(codes >= (1 << (bits_stored - 1)), codes - (1 << bits_stored), codes)
    return {
        "shape": list(arr.shape),
        "photometric": photometric,
        "values": base64.b64encode(codes.astype("<f8").tobytes()).decode("ascii"),
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
    json.dump({"pydicom": pydicom.__version__, "files": out}, sys.stdout)


main()
