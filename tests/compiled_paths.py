"""The rule the tests of an optional compiled path (tfcodec.compiled.CompiledPath) share.

Where the extension is not built these tests skip, except in CI on a machine
that could have built it (a C compiler and Python's headers): there a missing
extension means the install is broken, and they fail. Tests named
test_fallback* check the numpy fallback and always run.
"""

import os
import shutil
import sysconfig

import pytest


def can_build():
    """Whether this machine could have built an extension: a C compiler and Python.h."""
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    return bool(shutil.which("cc") or shutil.which("gcc")) and os.path.exists(headers)


def require_compiled(request, path, extension):
    """For an autouse fixture: skip (or fail, see above) `request`'s test unless `path`, the
    CompiledPath of module `extension`, is in use."""
    if request.node.name.startswith("test_fallback"):
        return
    if not path.available():
        if os.environ.get("CI") and can_build():
            pytest.fail(f"CI has a C compiler and Python's headers, yet {extension} was not built "
                        "(pip install -e . builds it)")
        pytest.skip(f"{extension} is not built here")
    if not path.in_use():
        pytest.skip(f"{path.environment_variable}=numpy")
