"""How pydicom reads files that Aegis wrote (the de-identification tests).

Reads file names (one per line) from stdin and prints one JSON document { path: result } where
result is { "error": "..." } when pydicom cannot read the file or one of its values, or
{ "identityRemoved", "sopInstanceUID", "mediaStorageSOPInstanceUID", "paths" }: "paths" lists every
element of the data set at every depth, as `tag` or `sequence/item/tag` (8 upper-case hex digits),
after reading every value (so that a wrong length anywhere shows up as an error or a wrong path).
"""
import json
import sys
import warnings

import pydicom
from pydicom import config

warnings.simplefilter("ignore")
config.settings.reading_validation_mode = config.IGNORE if hasattr(config, "IGNORE") else 0


def walk(ds, prefix, paths):
    for elem in ds:
        path = f"{prefix}{elem.tag:08X}"
        paths.append(path)
        value = elem.value
        if elem.VR == "SQ":
            for i, item in enumerate(value):
                walk(item, f"{path}/{i}/", paths)


def check(path):
    try:
        ds = pydicom.dcmread(path)
        paths = []
        walk(ds.file_meta, "", [])
        walk(ds, "", paths)
        if "PixelData" in ds:
            len(ds.PixelData)
        return {
            "identityRemoved": str(ds.get("PatientIdentityRemoved", "")),
            "sopInstanceUID": str(ds.get("SOPInstanceUID", "")),
            "mediaStorageSOPInstanceUID": str(ds.file_meta.get("MediaStorageSOPInstanceUID", "")),
            "paths": paths,
        }
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}"}


def main():
    out = {}
    for line in sys.stdin.read().splitlines():
        if line:
            out[line] = check(line)
    json.dump(out, sys.stdout, default=str)


main()
