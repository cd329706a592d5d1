// autoopt dashboard: draws the figures, wires the copy buttons, refreshes live pages.
// Figures arrive as JSON in <script type="application/json"> blocks (never executed),
// so pages need no inline script and run under a strict Content-Security-Policy.
"use strict";

function drawFigures() {
  document.querySelectorAll("[data-figure]").forEach(function (element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source || typeof Plotly === "undefined") return;
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      toImageButtonOptions: { format: "png", filename: element.dataset.filename || "autoopt", scale: 2 },
    });
  });
}

function copyText(text, button) {
  function done(ok) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? "Copied" : "Press Ctrl+C";
    setTimeout(function () { button.textContent = label; }, 1600);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    return;
  }
  // Plain http on a non-local host has no Clipboard API: select the text instead.
  var area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  var ok = false;
  try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
  document.body.removeChild(area);
  done(ok);
}

function wireCopyButtons() {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      copyText(document.getElementById(button.dataset.copy).textContent, button);
    });
  });
}

function wireLiveRefresh() {
  var toggle = document.getElementById("live-refresh");
  if (!toggle) return;
  var key = "autoopt.live-refresh";
  toggle.checked = localStorage.getItem(key) !== "off";
  toggle.addEventListener("change", function () {
    localStorage.setItem(key, toggle.checked ? "on" : "off");
  });
  setInterval(function () {
    if (toggle.checked && document.visibilityState === "visible") window.location.reload();
  }, Number(toggle.dataset.seconds || 10) * 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  drawFigures();
  wireCopyButtons();
  wireLiveRefresh();
});
