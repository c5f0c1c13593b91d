"""Rate-distortion evaluation of tfcodec models and classical codecs (`tfcodec eval`).

Modules, one idea each: ``metrics`` (PSNR, MS-SSIM), ``classical`` (Pillow
codecs), ``bdrate`` (Bjøntegaard deltas), ``runner`` (sweep, cache, progress),
``report`` (JSON/CSV/Markdown), ``plots`` (PNG curves), ``evaluation`` (the
whole run); the command's flags are in tfcodec/commands/eval.py.
Importing this package imports neither TensorFlow nor Pillow.
"""
