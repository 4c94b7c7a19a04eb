/**
 * The dashboard's stylesheet, served by the Worker itself at `/assets/dashboard.css` (CSP
 * `style-src 'self'`: no inline styles, no CDN, no web font). Colours pass WCAG AA on their
 * backgrounds; every colour has its word beside it (state names, percentages).
 */
export const STYLESHEET_PATH = "/assets/dashboard.css";

export const STYLESHEET = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #4a5360; --line: #d0d7de; --bg: #f6f8fa;
  --card: #ffffff; --accent: #0b5cad; --ok: #116329; --warn: #7a4a00; --bad: #a40e26; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: #24292f; color: #fff; }
header.top a { color: #fff; }
header.top .brand { font-weight: 700; text-decoration: none; margin-right: auto; }
header.top nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header.top nav a[aria-current="page"] { text-decoration-thickness: 3px; }
header.top form { margin: 0; }
header.top button { background: transparent; color: #fff; border: 1px solid #8c959f; border-radius: 6px; padding: .2rem .7rem; cursor: pointer; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.2rem 3rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 0 0 1rem; }
.cards { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); }
.muted { color: var(--muted); }
.gauge { display: flex; align-items: center; gap: .6rem; }
.gauge meter { width: 12rem; height: 1rem; }
.level-ok { color: var(--ok); } .level-warn { color: var(--warn); } .level-bad { color: var(--bad); } .level-none { color: var(--muted); }
.badge { display: inline-block; border-radius: 999px; padding: 0 .6rem; font-size: .85rem; font-weight: 600; border: 1px solid currentColor; }
.state-open, .state-verifying, .state-acting { color: var(--warn); }
.state-awaiting-approval, .state-escalated { color: var(--bad); }
.state-resolved { color: var(--ok); } .state-closed { color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #eef1f4; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
form.filters { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; margin: 0 0 1rem; }
label { display: block; font-weight: 600; font-size: .9rem; }
input, select { font: inherit; padding: .3rem .5rem; border: 1px solid #8c959f; border-radius: 6px; background: #fff; color: var(--fg); }
button { font: inherit; }
.actions { display: flex; flex-wrap: wrap; gap: .6rem; }
.actions button, form.filters button, .login button { border-radius: 6px; padding: .4rem 1rem; border: 1px solid #8c959f; background: #f6f8fa; color: var(--fg); cursor: pointer; }
.actions button.primary, .login button { background: #1f6f3a; border-color: #1f6f3a; color: #fff; }
.notice { border-left: 4px solid var(--accent); background: #ddf4ff; padding: .5rem .8rem; margin: 0 0 1rem; }
.error { border-left: 4px solid var(--bad); background: #ffebe9; padding: .5rem .8rem; margin: 0 0 1rem; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { display: grid; grid-template-columns: 5.5rem 11rem 1fr; gap: .6rem; padding: .3rem 0; border-bottom: 1px solid var(--line); }
ol.timeline time { color: var(--muted); font-variant-numeric: tabular-nums; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef1f4; padding: 0 .25rem; border-radius: 4px; word-break: break-all; }
.chart svg { width: 100%; height: auto; max-height: 14rem; }
.chart .line { fill: none; stroke: #0b5cad; stroke-width: 2; }
.chart .dot { fill: #0b5cad; }
.chart .threshold { stroke: #a40e26; stroke-dasharray: 6 4; stroke-width: 1.5; }
.chart .limit { stroke: #4a5360; stroke-width: 1; }
.chart .grid { stroke: #d0d7de; stroke-width: 1; }
.chart .incident { stroke: #7a4a00; stroke-width: 2; }
.chart .gap { fill: #eef1f4; }
.chart text { font-size: 11px; fill: #4a5360; }
.login { max-width: 26rem; margin: 3rem auto; }
.login input { width: 100%; margin: .3rem 0 1rem; }
.pager { display: flex; gap: 1rem; margin-top: 1rem; }
`;
