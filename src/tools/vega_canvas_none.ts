// What `npm run bundle` puts in place of the `vega-canvas` package: its Node build probes for the
// optional `canvas` (node-canvas) package with a top-level await, which a CommonJS bundle cannot
// hold. metala renders figures to SVG with no canvas (vega then estimates text widths, exactly as
// vega-canvas does when node-canvas is not installed, which metala never installs), so both
// functions answer "no canvas" as vega-canvas would here.
export function canvas(): null {
  return null;
}

export function image(): null {
  return null;
}
