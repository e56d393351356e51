#!/usr/bin/env bash
# Put this checkout's `companion` on PATH: a link in /usr/local/bin when writable, else in
# ~/.local/bin (or $COMPANION_BINDIR). A link that belongs to another checkout is left alone
# and named: a second clone must not silently take over the first one's command.
#   scripts/link-command.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
[ "${1:-}" = "--force" ] && force=1
target="$PWD/.venv/bin/companion"
if [ -n "${COMPANION_BINDIR:-}" ]; then
    bindir="$COMPANION_BINDIR"
elif [ -w /usr/local/bin ]; then
    bindir=/usr/local/bin
else
    bindir="$HOME/.local/bin"
fi
mkdir -p "$bindir"
link="$bindir/companion"

if [ -L "$link" ] && [ ! -e "$link" ]; then
    # A link to a checkout that is gone runs nothing: taking it over takes nothing from anyone.
    echo "setup: $link pointed to $(readlink "$link"), which is gone; it now runs this checkout"
elif [ -e "$link" ]; then
    current="$(readlink "$link" || true)"
    if [ "$current" != "$target" ] && [ $force = 0 ]; then
        echo "setup: $link already runs ${current:-another program}; left as it is."
        echo "setup:   this checkout's command is $target"
        echo "setup:   (scripts/link-command.sh --force points $link here)"
        exit 0
    fi
fi
ln -sfn "$target" "$link"
case ":$PATH:" in
    *":$bindir:"*) ;;
    *) echo "setup: $bindir is not on PATH in this shell: type $target, or log in again" \
            "(Debian adds ~/.local/bin to PATH at login when it exists)";;
esac
