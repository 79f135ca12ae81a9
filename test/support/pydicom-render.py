"""Reference renderings for the rendered-resource tests, computed with pydicom and numpy.

Reads one JSON request per line from stdin: {"file": path, "frame": n (1-based),
"window": [center, width, function] or null}, and prints one JSON document
{ "images": [ { "width", "height", "channels", "pixels": base64 of uint8 samples, row by row } or
{ "error": "..." } ] } in the same order.

Grayscale (PS3.3 C.11.2.1): pydicom decodes the pixel data; the Modality LUT is Rescale Slope and
Intercept; the VOI LUT is the requested window (else the instance's first Window Center and Width,
with its VOI LUT Function) with the functions of PS3.3 C.11.2.1.2 (LINEAR) and C.11.2.1.3.2
(LINEAR_EXACT, SIGMOID) onto 0..255, rounded to the nearest integer; MONOCHROME1 is inverted.
Colour: RGB samples as decoded; YBR_FULL and (native) YBR_FULL_422 converted to RGB by pydicom.
"""
import base64
import json
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import convert_color_space

warnings.simplefilter("ignore")


def first(value):
    return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)


def voi(x, center, width, function):
    if function == "LINEAR":
        low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
        y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
        y = np.where(x <= low, 0, np.where(x > high, 255, y))
    elif function == "LINEAR_EXACT":
        y = ((x - center) / width + 0.5) * 255
        y = np.where(x <= center - width / 2, 0, np.where(x > center + width / 2, 255, y))
    elif function == "SIGMOID":
        y = 255 / (1 + np.exp(-4 * (x - center) / width))
    else:
        raise ValueError(f"unknown VOI LUT function {function}")
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def render(request):
    ds = pydicom.dcmread(request["file"])
    arr = ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[request["frame"] - 1]
    photometric = str(ds.PhotometricInterpretation).strip()
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        x = arr.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
        if request.get("window"):
            center, width, function = request["window"]
            function = function.upper().replace("-", "_")
        else:
            center, width = first(ds.WindowCenter), first(ds.WindowWidth)
            function = str(getattr(ds, "VOILUTFunction", "LINEAR") or "LINEAR").upper()
        y = voi(x, float(center), float(width), function)
        if photometric == "MONOCHROME1":
            y = 255 - y
        out, channels = y, 1
    elif photometric == "RGB":
        out, channels = arr.astype(np.uint8), 3
    elif photometric in ("YBR_FULL", "YBR_FULL_422"):
        # pydicom hands native YBR_FULL_422 samples back upsampled: full YBR, one triple per pixel.
        out, channels = convert_color_space(arr, "YBR_FULL", "RGB").astype(np.uint8), 3
    else:
        raise ValueError(f"no reference rendering for {photometric}")
    return {
        "width": int(ds.Columns),
        "height": int(ds.Rows),
        "channels": channels,
        "pixels": base64.b64encode(np.ascontiguousarray(out).tobytes()).decode("ascii"),
    }


def main():
    images = []
    for line in sys.stdin.read().splitlines():
        if not line.strip():
            continue
        try:
            images.append(render(json.loads(line)))
        except Exception as exc:  # noqa: BLE001
            images.append({"error": f"{type(exc).__name__}: {exc}"})
    json.dump({"images": images}, sys.stdout)


if __name__ == "__main__":
    main()
