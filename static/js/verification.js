// The verification dashboard: live queue count (SSE), select all, bulk reason, keyboard, zoom.
// A static file because the content security policy forbids inline scripts.
(function () {
  "use strict";

  function liveCount() {
    var queue = document.getElementById("queue");
    var target = document.getElementById("live-count");
    if (!queue || !target || !window.EventSource) return;
    var source = new EventSource(queue.dataset.streamUrl);
    source.addEventListener("queue", function (event) {
      var data = JSON.parse(event.data);
      target.textContent = String(data.total);
      target.dataset.total = String(data.total);
    });
  }

  function selectAll() {
    var all = document.getElementById("select-all");
    if (!all) return;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=selected]:not([disabled])").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  var zoom = 1;
  function setZoom(level) {
    var image = document.getElementById("proof-image");
    if (!image) return;
    zoom = Math.max(1, Math.min(4, level));
    image.className = "zoom-" + zoom;
  }

  function zoomControls() {
    var image = document.getElementById("proof-image");
    if (!image) return;
    document.getElementById("zoom-in").addEventListener("click", function () { setZoom(zoom + 1); });
    document.getElementById("zoom-out").addEventListener("click", function () { setZoom(zoom - 1); });
    document.getElementById("zoom-reset").addEventListener("click", function () { setZoom(1); });
    image.addEventListener("click", function () { setZoom(zoom >= 4 ? 1 : zoom + 1); });
  }

  function typing(event) {
    var tag = (event.target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select";
  }

  function keyboard() {
    var review = document.getElementById("review");
    if (!review) return;
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
      var key = event.key.toLowerCase();
      var click = function (id) { var el = document.getElementById(id); if (el) { event.preventDefault(); el.click(); } };
      if (key === "a") click("approve");
      else if (key === "r") { var reason = document.getElementById("id_reason_code"); if (reason) { event.preventDefault(); reason.focus(); } }
      else if (key === "u") click("reupload");
      else if (key === "n") click("next-in-queue");
      else if (key === "q") { var back = document.querySelector(".breadcrumbs a:nth-of-type(2)"); if (back) back.click(); }
      else if (key === "+" || key === "=") setZoom(zoom + 1);
      else if (key === "-") setZoom(zoom - 1);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    liveCount();
    selectAll();
    zoomControls();
    keyboard();
  });
})();
