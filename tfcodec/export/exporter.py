"""Writes the folder the edge runtime loads: TFLite models, coding arrays, manifest, report.

    DIR/analysis.tflite        image -> y (before the gain)           encoder
    DIR/hyper_analysis.tflite  y * gain -> z                          encoder
    DIR/lrp_<i>.tflite         latent residual prediction, slice i    decoder (channel-wise models)
    DIR/synthesis.tflite       y_hat * inverse gain -> image          decoder
    DIR/coding.npz             range-coder tables, integer entropy-parameter nets, gain tables
    DIR/manifest.json          model id, weights hash, shapes, quantisation of every input/output
    DIR/report.txt             ops per model, sizes, the Edge TPU check

The coding arrays are the bundle's, copied unchanged: the device needs no
bundle and runs exactly the integer nets and tables the TF coder runs, so both
runtimes pick the same table for every symbol.
"""

import dataclasses
import hashlib
import io
import json
import os
import time

import numpy as np

from tfcodec import fileio
from tfcodec.errors import FormatError
from tfcodec.export import edgetpu, runtimes
from tfcodec.export.flatbuffer import float_operators, read_model
from tfcodec.fileio import write_atomic

MANIFEST = "manifest.json"
CODING = "coding.npz"
REPORT = "report.txt"
FORMAT = "tfcodec-edge"
FORMAT_VERSION = 1
DEFAULT_EDGETPU_SHAPE = (512, 768)


class ExportError(FormatError):
    """The export cannot produce what was asked (e.g. an op the Edge TPU rejects)."""


@dataclasses.dataclass
class ExportOptions:
    mode: str = "int8"               # float32 | float16 | int8 | edgetpu
    height: int = None               # None: dynamic shapes (not for edgetpu)
    width: int = None
    calibration: str = None          # folder of training images (int8 / edgetpu)
    calibration_images: int = 24
    seed: int = 0
    expect_model: str = None         # refuse a bundle of another model
    gdn: str = None                  # GDN form (graphs.GDN_FORMS); None: rsqrt for the Edge TPU
                                     # and float, for CPU int8 the fastest the runtime registers
                                     # (runtimes.int8_gdn_forms: log-exp on LiteRT 2.x)
    subpixel: bool = None            # synthesis upsampling as conv + depth_to_space (None: all but
                                     # the Edge TPU, which has TRANSPOSE_CONV but no DEPTH_TO_SPACE)
    runtime: str = None              # the runtime the models are for (runtimes.RUNTIMES); None:
                                     # coral for edgetpu, else runtimes.DEFAULT


def target_runtime(options):
    """The runtimes.Runtime an export is for: the one named, else coral for the Edge TPU and
    the current LiteRT for everything else."""
    if options.runtime is None and options.mode == "edgetpu":
        return runtimes.get(runtimes.EDGETPU_DEFAULT)
    return runtimes.get(options.runtime)


def _say(progress, message):
    if progress:
        progress(message)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def load_export_bundle(weights):
    """(bundle, its config), refusing a bundle of a family that has no edge export."""
    from tfcodec.models import bundle_config, bundle_family
    from tfcodec.weights import load_bundle

    bundle = load_bundle(weights)
    family = bundle_family(bundle)
    if not family.edge_export:
        raise ExportError(f"{weights}: the {family.name} family has no edge export (the hyperprior family has)")
    return bundle, bundle_config(bundle)


def _tensor_entry(tensor):
    entry = {"name": tensor.name, "dtype": tensor.dtype.lower(), "shape": list(tensor.shape),
             "shape_signature": list(tensor.shape_signature)}
    if tensor.scale:
        entry["scale"] = tensor.scale[0] if len(tensor.scale) == 1 else list(tensor.scale)
        entry["zero_point"] = tensor.zero_point[0] if len(tensor.zero_point) == 1 else list(tensor.zero_point)
    return entry


def _resolve_shape(options):
    h, w = options.height, options.width
    if options.mode == "edgetpu" and (h is None or w is None):
        h = h or DEFAULT_EDGETPU_SHAPE[0]
        w = w or DEFAULT_EDGETPU_SHAPE[1]
    if (h is None) != (w is None):
        raise ExportError("give both --height and --width, or neither (dynamic shapes)")
    if h is not None and (h <= 0 or w <= 0 or h % 64 or w % 64):
        raise ExportError(f"--height/--width must be positive multiples of 64 (the model's stride), got {h}x{w}")
    return h, w


def _compiler_note(out_dir, files):
    """What to run where edgetpu_compiler cannot run here (--out a URL)."""
    return (f"edgetpu_compiler not run: it writes local files only and --out {out_dir} is a URL; the "
            "models are compile-ready: copy the folder to a local disk and run edgetpu_compiler -s "
            + " ".join(files))


def export(weights, out_dir, options: ExportOptions, progress=print):
    """Exports a hyperprior bundle for the edge; returns the manifest (dict).

    `weights`, `out_dir` and the calibration folder may be local or URLs of any
    filesystem TensorFlow reads (gs://, file://, ...); edgetpu_compiler, which
    writes local files, runs only for a local `out_dir`.
    """
    from tfcodec.codecs.hyperprior import HyperpriorCodec
    from tfcodec.export import graphs
    from tfcodec.export.calibration import QUALITIES, representative_inputs
    from tfcodec.images import calibration_crops

    start = time.perf_counter()
    mode = options.mode
    if mode not in graphs.MODES + ("edgetpu",):
        raise ExportError(f"unknown mode {mode!r}")
    quantised = mode in ("int8", "edgetpu")
    if quantised and not options.calibration:
        raise ExportError("int8 and Edge TPU export need --calibration FOLDER of training images")
    height, width = _resolve_shape(options)
    target = target_runtime(options)
    gdn = options.gdn or (runtimes.int8_gdn_forms(target) if mode == "int8" else "rsqrt")
    if gdn is None:
        raise ExportError(f"{target.name} registers the int8 ops of neither GDN form (RSQRT v2, or "
                          "LOG v2 + EXP v2 and SQRT v2)")
    if isinstance(gdn, str) and gdn not in graphs.GDN_FORMS:
        raise ExportError(f"GDN form must be one of {', '.join(graphs.GDN_FORMS)}")
    subpixel = options.subpixel if options.subpixel is not None else mode != "edgetpu"
    out_dir = os.fspath(out_dir)
    if mode == "edgetpu" and fileio.is_url(out_dir) and edgetpu.compiler_path():
        raise ExportError(f"--out {out_dir} is a URL, and edgetpu_compiler (on PATH) writes local files "
                          "only: export --edgetpu to a local folder, then copy it")
    bundle, config = load_export_bundle(weights)
    if options.expect_model and options.expect_model != bundle.model:
        raise ExportError(f"{weights} holds model {bundle.model!r}, not {options.expect_model!r}")
    try:
        fileio.makedirs(out_dir)
    except Exception as e:  # noqa: BLE001 - OSError locally, a TensorFlow OpError on URLs
        raise ExportError(f"--out {out_dir}: cannot create the folder ({getattr(e, 'message', e)})") from None
    _say(progress, f"model {bundle.model} (weights {bundle.hash.hex()}, {weights}), mode {mode}, "
                   f"for {target.name}, input {f'{width}x{height}' if height else 'dynamic HxW'}, "
                   f"GDN as {runtimes.describe_gdn(gdn)}, "
                   f"upsampling by {'conv+depth_to_space' if subpixel else 'transpose_conv'}")
    coder = HyperpriorCodec(bundle)

    representative, scales = {}, {}
    if quantised:
        images = calibration_crops(options.calibration, options.calibration_images, height=height,
                                   width=width, seed=options.seed)
        _say(progress, f"calibration: {len(images)} images of {images[0].shape[1]}x{images[0].shape[0]} "
                       f"from {options.calibration}, qualities {'/'.join(f'{q:g}' for q in QUALITIES)} ...")
        representative, scales = representative_inputs(coder, images)

    models, infos, converted = {}, {}, {}
    roles = graphs.roles(config)
    shapes = {role: graphs.input_shape(role, config, height, width) for role in roles}
    _say(progress, f"converting {len(roles)} models: {', '.join(roles)}")
    t0 = time.perf_counter()
    for k, (role, data) in enumerate(graphs.convert(coder.model, shapes, "int8" if quantised else mode,
                                                    representative, gdn, subpixel, scales), 1):
        info = infos[role] = read_model(data)
        filename = f"{role}.tflite"
        # Checked before anything is written: a refused export leaves the folder as it was.
        runtimes.check(filename, info, target)
        if quantised:
            floating = float_operators(info)
            if floating:
                raise ExportError(f"{role}: these ops kept float kernels in the int8 model: "
                                  + ", ".join(sorted({op.name for op in floating})))
        converted[filename] = data
        models[role] = {
            "file": filename, "sha256": _sha256(data), "bytes": len(data),
            "inputs": [_tensor_entry(t) for t in info.inputs],
            "outputs": [_tensor_entry(t) for t in info.outputs],
            "ops": info.op_counts(),
            "op_versions": info.op_versions(),
            "parameter_bytes": info.constant_bytes,
        }
        if quantised:
            models[role]["calibration_samples"] = len(representative.get(role, ()))
        _say(progress, f"[{k}/{len(roles)}] {filename}: {len(data) / 1024:.0f} KiB, "
                       f"{sum(info.op_counts().values())} ops ({time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
    for filename, data in converted.items():
        write_atomic(fileio.join(out_dir, filename), data)

    # Coding arrays: the bundle's, unchanged, plus the gain tables (float32 of the float16
    # weights), with the int8 models' per-channel scales folded in (log domain).
    coding = {k: np.asarray(v) for k, v in bundle.coding.items()}
    coding["gains/log_gain"] = coder.model.gains.log_gain.numpy().astype(np.float32)
    coding["gains/log_inverse_gain"] = coder.model.gains.log_inverse_gain.numpy().astype(np.float32)
    if scales:
        coding["gains/log_gain"] -= np.log(scales["analysis"])
        coding["gains/log_inverse_gain"] += np.log(scales["synthesis"])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **coding)
    coding_bytes = buffer.getvalue()
    write_atomic(fileio.join(out_dir, CODING), coding_bytes)

    check, compiler = None, None
    if mode == "edgetpu":
        results = [edgetpu.check_model(infos[role], m["file"]) for role, m in models.items()]
        check = {r.name: {"ok": r.ok, "problems": [str(p) for p in r.problems], "warnings": r.warnings}
                 for r in results}
        for r in results:
            _say(progress, r.summary())
        failed = [r for r in results if not r.ok]
        if not failed and fileio.is_url(out_dir):  # (no compiler on PATH: refused above otherwise)
            compiler = {"available": False,
                        "note": _compiler_note(out_dir, [m["file"] for m in models.values()])}
            _say(progress, compiler["note"])
        elif not failed:
            compiler = edgetpu.run_compiler([os.path.join(out_dir, m["file"]) for m in models.values()],
                                            out_dir)
            if compiler["available"]:
                for name, entry in compiler["models"].items():
                    _say(progress, f"edgetpu_compiler {name}: {entry['edgetpu_ops']} of "
                                   f"{entry['total_ops']} ops on the Edge TPU")
            else:
                _say(progress, compiler["note"])

    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "model": bundle.model, "family": "hyperprior",
        "weights_hash": bundle.hash.hex(),
        "weights_file": os.path.basename(os.fspath(weights)),
        "config": json.loads(config.to_json()),
        "mode": mode,
        "runtime": runtimes.manifest_entry(target),
        "quantization": "int8" if quantised else mode,
        "gdn_form": runtimes.describe_gdn(gdn),
        "synthesis_upsampling": "conv+depth_to_space" if subpixel else "transpose_conv",
        "input_size": {"height": height, "width": width} if height else None,
        "models": models,
        "coding": {
            "file": CODING, "sha256": _sha256(coding_bytes),
            "arrays": sorted(coding),
            "note": "gaussian/* and factorized/* are the range coder's CDF tables, int/* the integer "
                    "entropy-parameter nets (tfcodec.entropy.integer_net), gains/* the quality gain "
                    "tables (log domain, interpolated as in tfcodec.models.gains)"
                    + (", times the int8 models' per-channel scales (the analysis output's divides the "
                       "gain, the synthesis input's multiplies the inverse gain)" if scales else ""),
        },
        "edgetpu_check": check,
        "edgetpu_compiler": compiler,
    }
    write_atomic(fileio.join(out_dir, MANIFEST), json.dumps(manifest, indent=1).encode())
    report = format_report(manifest)
    write_atomic(fileio.join(out_dir, REPORT), report.encode())
    _say(progress, report)
    _say(progress, f"wrote {out_dir} in {time.perf_counter() - start:.0f} s")
    if check and not all(v["ok"] for v in check.values()):
        bad = {name: v["problems"] for name, v in check.items() if not v["ok"]}
        raise ExportError("not Edge TPU compatible: " + "; ".join(
            f"{name}: {', '.join(p)}" for name, p in bad.items()))
    return manifest


def format_report(manifest):
    lines = [f"tfcodec edge export: {manifest['model']} weights {manifest['weights_hash']}, "
             f"{manifest['mode']} for {manifest['runtime']['name']} (GDN as {manifest['gdn_form']}), input "
             + (f"{manifest['input_size']['width']}x{manifest['input_size']['height']}"
                if manifest["input_size"] else "dynamic"), ""]
    lines.append(f"{'model':<16} {'KiB':>6}  {'input (dtype scale zp)':<34} ops")
    for role, m in manifest["models"].items():
        i = m["inputs"][0]
        quant = f"{i['dtype']} {i.get('scale', 0):.4g} {i.get('zero_point', '')}" if "scale" in i else i["dtype"]
        ops = ", ".join(f"{name} x{n}" for name, n in m["ops"].items())
        lines.append(f"{role:<16} {m['bytes'] / 1024:>6.0f}  {quant:<34} {ops}")
    total = sum(m["bytes"] for m in manifest["models"].values())
    lines.append(f"{'total':<16} {total / 1024:>6.0f}")
    if manifest["edgetpu_check"]:
        lines.append("")
        for name, c in manifest["edgetpu_check"].items():
            lines.append(f"Edge TPU check {name}: {'ok' if c['ok'] else 'FAILED'}")
            lines += [f"  problem: {p}" for p in c["problems"]]
            lines += [f"  warning: {w}" for w in c["warnings"]]
    compiler = manifest.get("edgetpu_compiler")
    if compiler:
        if compiler.get("available"):
            for name, entry in compiler["models"].items():
                lines.append(f"edgetpu_compiler {name}: {entry['edgetpu_ops']}/{entry['total_ops']} ops on the TPU")
        else:
            lines.append(compiler["note"])
    return "\n".join(lines) + "\n"
