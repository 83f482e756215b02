/// The stylesheet and script every page loads, served from the binary (`/static/app.css`,
/// `/static/app.js`): no CDN, no build step, usable offline.
enum Assets {
    /// `/static/app.css`.
    static let css = """
        :root { --fg: #1d232a; --muted: #5f6b76; --line: #d9dee3; --bg: #f7f8fa; --accent: #1f6feb; --card: #fff; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
        header { background: #14202e; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
        header a { color: #cfe3ff; text-decoration: none; }
        header .brand { font-weight: 700; color: #fff; font-size: 16px; }
        main { padding: 16px 20px 40px; max-width: 1400px; }
        h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 22px 0 8px; }
        a { color: var(--accent); }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin-bottom: 14px; }
        table { border-collapse: collapse; width: 100%; background: var(--card); }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #eef1f4; font-weight: 600; white-space: nowrap; }
        th a { color: var(--fg); text-decoration: none; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.transcript { max-width: 420px; color: #333; }
        tr:hover td { background: #f3f7ff; }
        h1.mono { font-size: 18px; }
        code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
        .muted { color: var(--muted); }
        .pill { display: inline-block; padding: 0 7px; border-radius: 10px; background: #e8eef6; margin: 1px 2px; font-size: 12px; }
        .error { background: #fff0f0; border: 1px solid #e5a4a4; color: #7a1111; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
        .error .hint { color: #5a3a3a; margin-top: 4px; }
        form.sql { display: flex; gap: 8px; margin: 8px 0 12px; }
        form.sql input[type=text] { flex: 1; font-family: ui-monospace, monospace; padding: 6px 8px; border: 1px solid var(--line); border-radius: 4px; }
        button, .button { padding: 6px 12px; border: 1px solid #1a5fd0; background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; }
        .pager { margin: 10px 0; display: flex; gap: 10px; align-items: center; }
        .charts { display: flex; gap: 16px; flex-wrap: wrap; }
        .charts .card { flex: 1 1 420px; }
        .words span.w { cursor: pointer; padding: 1px 2px; border-radius: 3px; }
        .words span.w:hover { outline: 1px solid #888; }
        .words span.w.playing { outline: 2px solid var(--accent); }
        .wave { width: 100%; height: 90px; display: block; background: #fbfcfd; border: 1px solid var(--line); }
        .spectrogram { width: 100%; height: 160px; image-rendering: pixelated; border: 1px solid var(--line); display: block; }
        audio { width: 100%; margin: 6px 0; }
        .graph td { height: 32px; padding-top: 0; padding-bottom: 0; white-space: nowrap; }
        .graph td.lane { font-family: ui-monospace, monospace; white-space: pre; color: #6a7a8a; width: 1%; }
        .added { color: #116329; } .removed { color: #a40e26; } .modified { color: #9a6700; }
        .old { background: #ffebe9; text-decoration: line-through; padding: 0 3px; } .new { background: #dafbe1; padding: 0 3px; }
        dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0; } dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; }
        """

    /// `/static/app.js`: clicking a word seeks the sample's audio; the word being spoken is outlined;
    /// a click on a waveform or spectrogram seeks to that time.
    static let js = """
        (function () {
          function audio() { return document.getElementById('player'); }
          document.addEventListener('click', function (e) {
            var t = e.target.closest ? e.target.closest('[data-start]') : null;
            var a = audio();
            if (t && a) { a.currentTime = parseFloat(t.getAttribute('data-start')); a.play().catch(function () {}); e.preventDefault(); return; }
            var s = e.target.closest ? e.target.closest('[data-duration]') : null;
            if (s && a) {
              var r = s.getBoundingClientRect();
              a.currentTime = Math.max(0, (e.clientX - r.left) / r.width) * parseFloat(s.getAttribute('data-duration'));
            }
          });
          function tick() {
            var a = audio(); if (!a) return;
            var now = a.currentTime, cur = document.querySelectorAll('.words span.w');
            for (var i = 0; i < cur.length; i++) {
              var w = cur[i], s = parseFloat(w.getAttribute('data-start')), en = parseFloat(w.getAttribute('data-end'));
              w.classList.toggle('playing', now >= s && now < en);
            }
            var cursors = document.querySelectorAll('.cursor');
            var d = parseFloat(a.getAttribute('data-total') || a.duration || 1);
            for (var j = 0; j < cursors.length; j++) { cursors[j].setAttribute('x1', now / d * 1000); cursors[j].setAttribute('x2', now / d * 1000); }
          }
          document.addEventListener('DOMContentLoaded', function () { var a = audio(); if (a) a.addEventListener('timeupdate', tick); });
        })();
        """

    /// The tab icon: four bars of a level meter on the header's dark blue, as SVG.
    static let favicon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#14202e"/>\
        <g fill="#cfe3ff"><rect x="2" y="6" width="2" height="4"/><rect x="5" y="3" width="2" height="10"/>\
        <rect x="8" y="5" width="2" height="6"/><rect x="11" y="2" width="2" height="12"/></g></svg>
        """
}
