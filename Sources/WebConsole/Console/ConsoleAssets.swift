/// The console's stylesheet and script, served from this process (`/console.css`, `/console.js`): the
/// Content-Security-Policy allows nothing else, and the console must work on a host with no internet access.
enum ConsoleAssets {
    /// Plain, readable styles; colours are also what the SVG charts use.
    static let css = """
        :root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; --card: #fff;
          --accent: #2458a6; --q: #8fb3e3; --b: #c9302c; --ok: #1f7a3d; --warn: #9a6700; --bad: #b42318; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
          color: var(--fg); background: var(--bg); }
        header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #1d2330; color: #fff; }
        header.top .brand { font-weight: 700; letter-spacing: .02em; }
        header.top nav a { color: #cfd8e8; text-decoration: none; margin-right: 18px; padding: 4px 0; }
        header.top nav a[aria-current] { color: #fff; border-bottom: 2px solid #8fb3e3; }
        main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 32px; }
        footer { max-width: 1240px; margin: 0 auto; padding: 8px 24px 24px; color: var(--muted); font-size: 13px; }
        h1 { font-size: 24px; margin: 8px 0 12px; }
        h2 { font-size: 18px; margin: 0 0 10px; }
        a { color: var(--accent); }
        section.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px;
          margin: 0 0 16px; overflow-x: auto; }
        .titlebar { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 12px; }
        nav.range { display: inline-flex; gap: 4px; align-items: center; }
        nav.range span { color: var(--muted); margin-right: 4px; }
        nav.range a { padding: 2px 10px; border: 1px solid var(--line); border-radius: 4px; text-decoration: none;
          background: var(--card); }
        nav.range a.on { background: var(--accent); color: #fff; border-color: var(--accent); }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin-bottom: 16px; }
        .stat { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
        .stat .value { font-size: 26px; font-weight: 650; }
        .stat .what { color: var(--muted); font-size: 13px; }
        .stat.alert .value { color: var(--b); }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-size: 13px; color: var(--muted); font-weight: 600; white-space: nowrap; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tr.blocked td { background: #fdf1f0; }
        td time, td.bars { white-space: nowrap; }
        .qname, .rule, .image, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
          font-size: 13px; overflow-wrap: anywhere; }
        .wname { font-weight: 600; }
        .image { color: var(--muted); }
        .labels { display: inline; }
        .label { display: inline-block; font-size: 12px; background: #eef1f6; border: 1px solid var(--line);
          border-radius: 10px; padding: 0 7px; margin: 1px 2px; overflow-wrap: anywhere; }
        .unknown a { color: var(--muted); }
        .feed { font-weight: 600; }
        .action { color: var(--muted); }
        ul.domains { list-style: none; margin: 0; padding: 0; }
        ul.domains li { margin: 1px 0; }
        .count { color: var(--muted); font-size: 13px; }
        .storm { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600;
          background: #fde7e5; color: var(--bad); }
        .state { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px; font-weight: 600; }
        .state.ok { background: #e3f4e8; color: var(--ok); }
        .state.stale, .state.never-loaded, .state.disabled { background: #fff4d6; color: var(--warn); }
        .state.failed { background: #fde7e5; color: var(--bad); }
        .rcode-blocked { color: var(--b); font-weight: 600; }
        .notice { padding: 8px 12px; border-radius: 4px; background: #eef3fb; border: 1px solid #c9d8ef; }
        .notice.error { background: #fde7e5; border-color: #f3b8b1; color: #7a1a12; }
        .notice.warn { background: #fff4d6; border-color: #ecd48c; }
        .muted { color: var(--muted); }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        form.filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px 12px;
          align-items: end; }
        form.filters label, form.quarantine label { display: flex; flex-direction: column; font-size: 13px;
          color: var(--muted); gap: 2px; }
        form.filters label.check { flex-direction: row; align-items: center; gap: 6px; color: var(--fg); }
        input, select, button { font: inherit; padding: 4px 6px; border: 1px solid #b9c0cc; border-radius: 4px;
          background: #fff; color: var(--fg); }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; padding: 5px 14px; }
        button.danger { background: var(--b); border-color: var(--b); }
        form.quarantine { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin-top: 10px; }
        .pager { display: flex; gap: 16px; margin-top: 10px; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg .grid { stroke: #e4e7ed; stroke-width: 1; }
        svg .tick { stroke: #9aa3b2; stroke-width: 1; }
        svg .axis { fill: var(--muted); font-size: 12px; font-family: system-ui, sans-serif; }
        svg .q { fill: var(--q); }
        svg .b { fill: var(--b); }
        svg .track { fill: #eef1f6; }
        svg .hover { fill: transparent; }
        svg g:hover .hover { fill: #f0f3f8; }
        svg.bar { vertical-align: middle; margin-right: 6px; }
        .legend { display: flex; gap: 16px; font-size: 13px; color: var(--muted); margin-top: 4px; }
        .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 4px; }
        .swatch.q { background: var(--q); }
        .swatch.b { background: var(--b); }
        #quarantine-result { margin-top: 8px; }
        """

    /// The quarantine and release forms of a workload page: they call the token-protected HTTP API with the
    /// token the operator typed. The token is sent in the Authorization header of that one request and kept
    /// nowhere (no storage, no cookie); results are written with `textContent`, never as markup.
    static let javascript = """
        "use strict";
        document.addEventListener("DOMContentLoaded", function () {
          for (const form of document.querySelectorAll("form.quarantine")) {
            form.addEventListener("submit", async function (event) {
              event.preventDefault();
              const out = document.getElementById("quarantine-result");
              const key = form.dataset.workloadKey;
              const release = form.dataset.action === "release";
              const reason = form.elements["reason"].value;
              const init = {
                method: release ? "DELETE" : "POST",
                headers: { "Authorization": "Bearer " + form.elements["token"].value },
                credentials: "omit",
                cache: "no-store",
              };
              let url = "/api/v1/quarantine";
              if (release) {
                url += "/" + encodeURIComponent(key) + "?reason=" + encodeURIComponent(reason);
              } else {
                init.headers["Content-Type"] = "application/json";
                init.body = JSON.stringify({ workload_key: key, reason: reason, answer: form.elements["answer"].value });
              }
              out.textContent = "Sending…";
              try {
                const response = await fetch(url, init);
                if (response.ok) {
                  out.textContent = release ? "Released." : "Quarantined.";
                  window.location.reload();
                  return;
                }
                let message = response.status + " " + response.statusText;
                try {
                  const body = await response.json();
                  if (body && typeof body.error === "string") message += ": " + body.error;
                } catch (ignored) {}
                out.textContent = "Failed: " + message;
              } catch (error) {
                out.textContent = "Failed: " + error;
              }
            });
          }
        });
        """
}
