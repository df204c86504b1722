// The search page: one self-contained HTML file (no external assets), so the
// binary serves it wherever it runs. /?q=TEXT runs TEXT on load.
#include "scenematch/search/server.h"

namespace sm {

const std::string& search_page() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>scenematch search</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
form { display: flex; gap: .5em; }
#q { flex: 1; font-size: 1.1em; padding: .4em; }
#status { color: #666; margin: .6em 0; min-height: 1.2em; }
#graph { background: #f7f7f7; padding: .5em .8em; border-radius: 4px; }
#graph:empty { display: none; }
.rel { color: #c0392b; }
#results { display: grid; grid-template-columns: repeat(auto-fill, minmax(14em, 1fr)); gap: 1em; margin-top: 1em; }
.result { border: 1px solid #ddd; border-radius: 4px; padding: .5em; }
.result img { width: 100%; background: #f4f1ea; }
.result .meta { font-size: .9em; color: #444; }
.error { color: #b00; }
</style>
</head>
<body>
<h1>scenematch</h1>
<form id="form">
  <input id="q" name="q" placeholder="a man riding a horse" autofocus>
  <select id="k"><option>5</option><option selected>10</option><option>20</option><option>50</option></select>
  <button type="submit">Search</button>
</form>
<div id="status"></div>
<div id="graph"></div>
<div id="results"></div>
<script>
const $ = (id) => document.getElementById(id);
function text(tag, content, cls) {
  const e = document.createElement(tag);
  e.textContent = content;
  if (cls) e.className = cls;
  return e;
}
function showGraph(g) {
  const box = $("graph");
  box.replaceChildren();
  if (!g) return;
  box.append(text("b", "Query scene graph: "));
  const objs = g.objects.map(o => (o.count > 1 ? o.count + " " : "") + [...o.attributes, o.word].join(" "));
  box.append(text("span", objs.length ? objs.join(", ") : "(no objects)", "objects"));
  for (const r of g.relations) {
    box.append(document.createElement("br"));
    box.append(text("span", r.subject + " \u2014" + r.predicate + "\u2192 " + r.object, "rel"));
  }
}
function showResults(data) {
  const list = $("results");
  list.replaceChildren();
  for (const r of data.results) {
    const card = document.createElement("div");
    card.className = "result";
    card.dataset.image = r.image;
    const img = document.createElement("img");
    img.src = "/image/" + r.image;
    img.alt = "image " + r.image;
    card.append(img);
    card.append(text("div", "#" + r.rank + "  image " + r.image + "  score " + r.score.toFixed(4), "meta score"));
    card.append(text("div", r.text !== undefined ? r.text : r.caption, "caption"));
    list.append(card);
  }
  $("status").textContent = data.results.length + " results, " + data.mode + ", " + data.milliseconds.toFixed(1) + " ms";
}
async function search(query) {
  $("status").textContent = "searching\u2026";
  $("status").className = "";
  try {
    const res = await fetch("/search", {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify(Object.assign(query, {k: Number($("k").value)}))});
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || res.statusText);
    showGraph(data.query.graph);
    showResults(data);
  } catch (e) {
    $("status").textContent = "error: " + e.message;
    $("status").className = "error";
    $("results").replaceChildren();
  }
}
$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (q) history.replaceState(null, "", "?q=" + encodeURIComponent(q));
  search({text: $("q").value});
});
const params = new URLSearchParams(location.search);
if (params.get("k")) {
  const k = String(Number(params.get("k")) || 10);
  if (![...$("k").options].some(o => o.value === k)) $("k").append(new Option(k));
  $("k").value = k;
}
if (params.get("q")) { $("q").value = params.get("q"); search({text: params.get("q")}); }
else if (params.get("image")) search({image: Number(params.get("image"))});
</script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace sm
