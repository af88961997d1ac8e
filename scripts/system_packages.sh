#!/usr/bin/env bash
# Debian packages codesign drives (not on PyPI): yosys + verilator for `codesign synth`; with --postgres
# also the PostgreSQL server the distributed-search test starts. Installs what is missing when run as
# root; otherwise says what to install and carries on (`codesign synth` then exits 2 with the same line).
set -uo pipefail
need=()
command -v yosys >/dev/null || need+=(yosys)
command -v verilator >/dev/null || need+=(verilator)
if [ "${1:-}" = "--postgres" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
        && exit 0
    echo "error: apt-get could not install ${need[*]}" >&2
    exit 2
fi
echo "warning: missing ${need[*]}: install them with \`apt-get install -y ${need[*]}\` (as root);" \
     "codesign synth needs yosys and verilator" >&2
exit 0
