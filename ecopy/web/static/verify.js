// The QR code on a copy opens /verify/<copy id>#hs=<dossier code>&cd=...: the issue data
// travel after '#', so they never reach the server. Only the dossier code is read here, to
// offer a link to the dossier's public status page.
(function () {
  "use strict";
  var link = document.getElementById("follow-dossier");
  if (!link || !window.location.hash) { return; }
  var params = new URLSearchParams(window.location.hash.slice(1));
  var code = (params.get("hs") || "").trim().toUpperCase();
  if (!/^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}$/.test(code)) { return; }
  link.href = "/status/" + code;
  link.textContent = link.getAttribute("data-label").replace("{code}", code);
  link.hidden = false;
})();
