#!/usr/bin/env bash
# Rebuilds web/vendor/jssip/jssip.min.mjs from the npm registry: JsSIP ships
# CommonJS only, so esbuild bundles it, with its dependencies (debug, events,
# sdp-transform, ms), into one ES module whose default export is JsSIP.
# Usage: web/vendor/jssip/update.sh [JSSIP_VERSION]   (default: the VERSION file)
# Then run the widget's tests (node --test web/) and the SIP browser tests
# (go test ./e2e/ -run SIP), and commit the three files with the new version.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:-$(cat "$here/VERSION")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "jssip@$version" esbuild@0.28.2 >/dev/null
npx esbuild node_modules/jssip/lib/JsSIP.js --bundle --format=esm --minify --legal-comments=eof --outfile="$here/jssip.min.mjs"
{
	echo "JsSIP $version and the packages bundled into jssip.min.mjs. Each licence follows, as its package ships it."
	for d in jssip sdp-transform debug events ms; do
		f="$(ls node_modules/$d/LICENSE* node_modules/$d/license* 2>/dev/null | head -1)"
		v="$(node -p "require('./node_modules/$d/package.json').version")"
		printf '\n==== %s %s (%s) ====\n' "$d" "$v" "$(basename "$f")"
		cat "$f"
	done
} >"$here/LICENSES.txt"
echo "$version" >"$here/VERSION"
