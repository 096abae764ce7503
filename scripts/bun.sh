# Sourced by the other scripts: sets BUN to Bun at the version package.json pins
# ("engines.bun"), installing it from the npm registry into .tools/ when the machine
# has no such Bun. Needs only Node.js and npm.
cd "$(dirname "$0")/.." || exit 1
pinned=$(node -p "require('./package.json').engines.bun")
if [ -n "${BUN_VERSION:-}" ] && [ "$BUN_VERSION" != "$pinned" ]; then
  echo "BUN_VERSION=$BUN_VERSION but package.json pins Bun $pinned; make them agree" >&2
  exit 1
fi
if command -v bun >/dev/null 2>&1 && [ "$(bun --version)" = "$pinned" ]; then
  BUN=$(command -v bun)
else
  BUN="$PWD/.tools/node_modules/.bin/bun"
  if ! [ -x "$BUN" ] || [ "$("$BUN" --version 2>/dev/null)" != "$pinned" ]; then
    echo "installing Bun $pinned into .tools/ (npm)" >&2
    npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error "bun@$pinned" >&2 || exit 1
  fi
fi
export BUN
