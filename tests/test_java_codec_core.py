"""The Android demo's Java codec core: its JUnit suite, and its vectors kept current."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "android_demo", "codec-core", "run_tests.sh")


def _java_available():
    return shutil.which("javac") and os.path.exists("/usr/share/java/junit4.jar")


@pytest.mark.parametrize("script", ["make_java_vectors.py", "make_java_latent_vectors.py",
                                    "make_java_tiling_vectors.py"])
def test_vectors_match_the_python_side(script):
    """The committed vectors are what today's Python code writes (else Java tests stale data)."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", script), "--check"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_junit_suite_passes():
    if not _java_available():
        if os.environ.get("CI"):
            pytest.fail("CI must have javac and Debian's junit4 (.ci/run installs them)")
        pytest.skip("javac or /usr/share/java/junit4.jar missing (apt-get install default-jdk-headless junit4)")
    proc = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "OK (" in proc.stdout


def test_app_sources_compile_against_stand_ins():
    """The app's own Java compiles and its JVM tests pass (Android classes are stand-ins)."""
    if not _java_available():
        if os.environ.get("CI"):
            pytest.fail("CI must have javac and Debian's junit4 (.ci/run installs them)")
        pytest.skip("javac or junit4 missing")
    script = os.path.join(ROOT, "android_demo", "app", "compile-check", "check.sh")
    proc = subprocess.run(["bash", script], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
