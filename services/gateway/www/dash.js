// cpmesh dashboard: the live view (server-sent events from /dash/events).
// No framework; text only (never innerHTML), newest first, at most 200 lines.
(function () {
  "use strict";
  var list = document.getElementById("live");
  if (!list || !window.EventSource) return;
  var status = document.getElementById("live-status");
  var src = new EventSource(list.getAttribute("data-src"));
  function add(text, cls) {
    var li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    list.insertBefore(li, list.firstChild);
    while (list.childNodes.length > 200) list.removeChild(list.lastChild);
  }
  src.onopen = function () { status.textContent = "Live."; };
  src.onerror = function () { status.textContent = "Reconnecting…"; };
  src.onmessage = function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (x) { return; }
    var when = new Date(ev.at_ms).toLocaleString();
    add(when + "  " + ev.kind + "  " + (ev.ticket || "") + "  " + (ev.agency || "") + "  " +
        (ev.area || "") + "  (" + ev.node + "/" + ev.service + " #" + ev.seq + ")");
  };
})();
