"""Reference values for the Aegis DICOM parser tests, computed with pydicom.

Reads the file names (one per line) from stdin and prints one JSON document:
{ "pydicom": version, "files": { path: result } } where result is either
{ "error": "..." } (pydicom cannot read the file as a Part 10 instance) or
{ "transferSyntax", "json": {tag: attribute or {"error": ...}}, "frames": [sha256 hex, ...] }.

Binary values stay InlineBinary here (no bulk data handler): the TypeScript tests check the
bytes behind their own BulkDataURI locations against them (see pydicom-expectations.ts).
"""
import hashlib
import json
import sys
import warnings

import pydicom
from pydicom import config
from pydicom.encaps import generate_pixel_data_frame

warnings.simplefilter("ignore")
config.settings.reading_validation_mode = config.IGNORE if hasattr(config, "IGNORE") else 0


def sha(b):
    return hashlib.sha256(b).hexdigest()


def frames_of(ds):
    if "PixelData" not in ds or "BitsAllocated" not in ds or "Rows" not in ds:
        return None
    ts = ds.file_meta.TransferSyntaxUID
    data = ds.PixelData
    nframes = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if ts.is_compressed:
        return [sha(f) for f in generate_pixel_data_frame(data, nframes)]
    bits = int(ds.BitsAllocated)
    spp = int(getattr(ds, "SamplesPerPixel", 1))
    if bits == 1:
        return [sha(data[: (ds.Rows * ds.Columns * spp * nframes + 7) // 8])]
    flen = ds.Rows * ds.Columns * spp * bits // 8
    return [sha(data[i * flen:(i + 1) * flen]) for i in range(nframes)]


def reference(path):
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"dcmread: {type(exc).__name__}: {exc}"}
    ts = getattr(ds.file_meta, "TransferSyntaxUID", None)
    if ts is None:
        return {"error": "no transfer syntax in the meta header"}
    out = {"transferSyntax": str(ts), "json": {}}
    try:
        keys = list(ds.keys())
    except Exception as exc:  # noqa: BLE001
        return {"error": f"keys: {type(exc).__name__}: {exc}"}
    for key in keys:
        tag = f"{key:08X}"
        try:
            out["json"][tag] = ds[key].to_json_dict(None, 1024)
        except Exception as exc:  # noqa: BLE001
            out["json"][tag] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        out["frames"] = frames_of(ds)
    except Exception as exc:  # noqa: BLE001
        out["framesError"] = f"{type(exc).__name__}: {exc}"
    return out


def main():
    files = {}
    for line in sys.stdin.read().splitlines():
        if line:
            files[line] = reference(line)
    json.dump({"pydicom": pydicom.__version__, "files": files}, sys.stdout, allow_nan=False, default=str)


main()
