"""One BLAS thread for the duration of a block: OpenBLAS's own setter, found the way threadpoolctl does.

Why: the integer nets of a slice (its mean net and its scale net) run on two
Python threads at once (`tfcodec.codecs.latent_coding`). Their GEMMs release the
GIL, and so do the compiled Winograd transforms, so two nets fill two cores;
but OpenBLAS spreads every GEMM over all cores by default, and then the two
nets' GEMMs queue behind each other while its idle workers spin on the cores
the transforms need. With OpenBLAS on one thread for the block, decoding a
Kodak image's latents took 60 ms against 67 ms (nets one after the other,
BLAS on both cores; 2-core machine, 2026-12-07). The block must begin before
the GEMMs that precede the pairs: OpenBLAS's workers spin for a while after
a multi-threaded GEMM, and two nets sharing the cores with a spinning worker
took 100 ms.

numpy has no API for its BLAS's threads. OpenBLAS has one
(`openblas_set_num_threads`; numpy's wheels bundle it as scipy-openblas, with
the `scipy_openblas_..._64_` names), so this module looks the already loaded
library up among the process's mapped files and calls it. Where that finds
nothing (another BLAS: Accelerate, MKL; no /proc), `one_thread()` yields
False and callers keep to one thread of their own.
"""

import contextlib
import ctypes
import threading

# (setter, getter) names, as OpenBLAS builds export them.
_SYMBOLS = (("openblas_set_num_threads", "openblas_get_num_threads"),
            ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"))

_lock = threading.Lock()
_users = 0
_saved = None
_found = None


def _openblas():
    """(set, get) of the OpenBLAS this process loaded, or None."""
    global _found
    if _found is None:
        _found = ()
        import numpy  # noqa: F401 - numpy's BLAS must be loaded before it is looked for

        try:
            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
        except OSError:
            paths = []
        for path in paths:
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for setter, getter in _SYMBOLS:
                if hasattr(library, setter) and hasattr(library, getter):
                    set_threads, get_threads = getattr(library, setter), getattr(library, getter)
                    set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
                    get_threads.argtypes, get_threads.restype = [], ctypes.c_int
                    _found = (set_threads, get_threads)
                    break
            if _found:
                break
    return _found or None


@contextlib.contextmanager
def one_thread():
    """OpenBLAS on one thread within the block (restored after the last of overlapping blocks);
    yields whether it could be set."""
    global _users, _saved
    functions = _openblas()
    if functions is None:
        yield False
        return
    set_threads, get_threads = functions
    with _lock:
        if _users == 0:
            _saved = get_threads()
            set_threads(1)
        _users += 1
    try:
        yield True
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                set_threads(_saved)
