"""Rate-distortion evaluation of tfcodec models and classical codecs (`tfcodec eval`).

Modules, one idea each: ``metrics`` (PSNR, MS-SSIM), ``classical`` (Pillow
codecs), ``bdrate`` (Bjøntegaard deltas), ``runner`` (sweep, cache, progress),
``report`` (JSON/CSV/Markdown), ``plots`` (PNG curves), ``cli`` (the command).
Importing this package imports neither TensorFlow nor Pillow.
"""
