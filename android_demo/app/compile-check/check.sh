#!/usr/bin/env bash
# Compiles the app's Java sources with plain javac against stand-ins of the Android and LiteRT
# classes it uses (make_stubs.py), plus the real codec core, and runs the app's JVM unit tests.
# No Android SDK needed. It catches errors in the app's own code; it does not prove the Android
# build (resources, manifest, Gradle, the real API signatures): only Android Studio does that.
set -euo pipefail
APP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORE="$APP/../codec-core"
JUNIT_JAR="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
HAMCREST_JAR="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tfcodec-app-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
python3 "$APP/compile-check/make_stubs.py" "$WORK/stubs-src"
mkdir -p "$WORK/stubs" "$WORK/core" "$WORK/app" "$WORK/test"
FLAGS=(-encoding UTF-8 --release 8 -nowarn)
javac "${FLAGS[@]}" -d "$WORK/stubs" $(find "$WORK/stubs-src" -name '*.java')
javac "${FLAGS[@]}" -d "$WORK/core" $(find "$CORE/src/main/java" -name '*.java')
javac -encoding UTF-8 --release 8 -Xlint:all,-options -Werror -d "$WORK/app" -cp "$WORK/stubs:$WORK/core" \
  $(find "$APP/src/main/java" -name '*.java')
echo "app sources compile against the stand-ins"
if [[ -f "$JUNIT_JAR" ]]; then
  javac "${FLAGS[@]}" -d "$WORK/test" -cp "$WORK/app:$WORK/core:$JUNIT_JAR" $(find "$APP/src/test/java" -name '*.java')
  TESTS=$(cd "$APP/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g')
  java -cp "$WORK/test:$WORK/app:$WORK/core:$JUNIT_JAR:$HAMCREST_JAR" org.junit.runner.JUnitCore $TESTS
else
  echo "no JUnit at $JUNIT_JAR: app unit tests not run" >&2
fi
