#!/usr/bin/env bash
# The CI steps, in one place: .ci/run and .github/workflows/site.yml both call
# this script, so a pull request runs exactly what runs locally.
#
#   scripts/ci.sh setup          Debian packages (scripts/system-deps.sh), .venv with the pinned packages (make install)
#   scripts/ci.sh validate       validate data/ (Frictionless + generator/checks.py); exit 1 with a table of errors
#   scripts/ci.sh test           the README test command: make test
#   scripts/ci.sh build [OUT]    python -m generator build into OUT (default site/): MkDocs --strict,
#                                then the internal link check; nothing is published when either fails
#   scripts/ci.sh summary BASE   Markdown for a pull request: validation errors, or the data diff from
#                                the merge base with BASE to data/; appended to $GITHUB_STEP_SUMMARY when set
#   scripts/ci.sh all            setup, validate, test, build (what .ci/run runs)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

step() { printf '\n==> %s\n' "$*"; }

setup() {
    step "setup: Debian packages and .venv"
    make system install
}

validate() {
    step "validate: data/"
    "$PY" -m generator validate
}

run_tests() {
    step "test: make test"
    make test
}

build() {
    step "build: ${1:-site}"
    "$PY" -m generator build --out "${1:-site}"
}

summary() {
    local base rc report
    base=$(git merge-base "$1" HEAD)
    report=$(mktemp)
    step "summary: data changes $base → data/"
    rc=0
    "$PY" -m generator diff "$base" data/ >"$report" || rc=$?
    {
        echo "# 数据检查"
        echo
        if [ "$rc" -eq 0 ]; then
            echo "数据校验通过。"
            echo
        fi
        cat "$report"
    } | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
    rm -f "$report"
    return "$rc"
}

case "${1:-all}" in
    setup) setup ;;
    validate) validate ;;
    test) run_tests ;;
    build) build "${2:-site}" ;;
    summary)
        [ $# -eq 2 ] || { echo "usage: scripts/ci.sh summary BASE_REVISION" >&2; exit 2; }
        summary "$2" ;;
    all) setup; validate; run_tests; build site ;;
    *) echo "usage: scripts/ci.sh setup|validate|test|build [OUT]|summary BASE|all" >&2; exit 2 ;;
esac
