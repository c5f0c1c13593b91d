#!/usr/bin/env bash
# Builds the codec core and runs its JUnit 4 tests with plain javac/java: no Gradle,
# no network. Needs a JDK (8 or later; 17 here) and JUnit 4 + Hamcrest jars, by default
# Debian's `junit4` package (/usr/share/java/junit4.jar, hamcrest-core.jar).
# Override with JUNIT_JAR / HAMCREST_JAR. Exits non-zero if anything fails to build or
# any test fails; JUnit prints "OK (N tests)" on success.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JUNIT_JAR="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
HAMCREST_JAR="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

for jar in "$JUNIT_JAR" "$HAMCREST_JAR"; do
  if [[ ! -f "$jar" ]]; then
    echo "run_tests.sh: $jar not found; install JUnit 4 (Debian/Ubuntu: apt-get install junit4)" \
         "or set JUNIT_JAR and HAMCREST_JAR" >&2
    exit 2
  fi
done
for tool in javac java; do
  command -v "$tool" >/dev/null || { echo "run_tests.sh: $tool not found (need a JDK)" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tfcodec-codec-core.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/main" "$WORK/test"

# The library targets Java 8 (what Android's toolchain accepts everywhere); --release checks
# that no newer API slipped in. Older JDKs without --release fall back to -source/-target.
if javac --release 8 -version >/dev/null 2>&1; then
  RELEASE=(--release 8)
else
  RELEASE=(-source 8 -target 8)
fi
JAVAC_FLAGS=(-encoding UTF-8 -Xlint:all,-options -Werror "${RELEASE[@]}")

find "$HERE/src/main/java" -name '*.java' | sort > "$WORK/main-sources.txt"
find "$HERE/src/test/java" -name '*.java' | sort > "$WORK/test-sources.txt"

javac "${JAVAC_FLAGS[@]}" -d "$WORK/main" @"$WORK/main-sources.txt"
javac "${JAVAC_FLAGS[@]}" -d "$WORK/test" -cp "$WORK/main:$JUNIT_JAR:$HAMCREST_JAR" \
  @"$WORK/test-sources.txt"

# Every public *Test class under src/test/java, as a class name.
TESTS=()
while IFS= read -r file; do
  rel="${file#"$HERE/src/test/java/"}"
  TESTS+=("$(echo "${rel%.java}" | tr '/' '.')")
done < <(find "$HERE/src/test/java" -name '*Test.java' | sort)
if [[ ${#TESTS[@]} -eq 0 ]]; then
  echo "run_tests.sh: no test classes found" >&2
  exit 1
fi

java -cp "$WORK/main:$WORK/test:$HERE/src/test/resources:$JUNIT_JAR:$HAMCREST_JAR" \
  org.junit.runner.JUnitCore "${TESTS[@]}"
