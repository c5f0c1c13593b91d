"""The optional compiled paths (the range coder's, the integer nets'), and the switch that turns each off.

Each is a C extension that `pip install` builds where a C compiler is at hand
(setup.py, `optional=True`); where none is, the package installs without it
and the numpy code beside it does the work. The numpy code stays the
reference: the compiled path gives the same bytes and integers, and the tests
hold one to the other. An environment variable (`TFCODEC_RANGECODER=numpy`,
`TFCODEC_INTEGER_NETS=numpy`) or `numpy_only()` in code (per thread) turns a
compiled path off: to compare the two, or to rule the compiled one out.
"""

import contextlib
import os
import threading


class CompiledPath:
    """An optional extension module (None where it was not built) and its off switch."""

    def __init__(self, module, environment_variable):
        self.module = module
        self.environment_variable = environment_variable
        self.switched_off = os.environ.get(environment_variable, "").strip().lower() == "numpy"
        self._off = threading.local()

    def available(self) -> bool:
        """Whether the extension was built for this Python."""
        return self.module is not None

    def in_use(self) -> bool:
        """Whether calls take the compiled path now (built, and not turned off)."""
        return self.module is not None and not self.switched_off and not getattr(self._off, "on", False)

    @contextlib.contextmanager
    def numpy_only(self):
        """Within the block (in this thread), calls take the numpy path."""
        before = getattr(self._off, "on", False)
        self._off.on = True
        try:
            yield
        finally:
            self._off.on = before
