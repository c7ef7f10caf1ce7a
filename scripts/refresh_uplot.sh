#!/usr/bin/env bash
# Refresh the dashboard's chart library from the npm registry's `uplot` package (MIT): its minified
# browser build, its stylesheet and its licence, with the version beside them. The page loads them
# from the package, never from a CDN, so it works with no network.
#
#     scripts/refresh_uplot.sh            # the version named in static/uplot/VERSION
#     scripts/refresh_uplot.sh 1.6.32     # another one
set -euo pipefail
target="$(cd "$(dirname "$0")/.." && pwd)/hpo_compss/dashboard/static/uplot"
version=${1:-$(cat "$target/VERSION")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf "uplot-$version.tgz")
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$target/"
cp "$work/package/LICENSE" "$target/LICENSE"
echo "$version" > "$target/VERSION"
echo "uplot $version -> $target"
