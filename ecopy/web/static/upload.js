/* Dossier page: drag-and-drop upload with per-file progress, and live document status.

   Without JavaScript the form posts normally. With it, each file is sent by its own
   XMLHttpRequest (so each has a progress bar) with the CSRF token in a header; the status
   table is refreshed every 2 s while a document is still waiting or being read. Data from
   the server is only ever put in the page with textContent. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var table = document.getElementById("documents-table");
  var body = document.getElementById("documents-body");
  var live = document.getElementById("status-live");
  var statusUrl = form ? form.dataset.statusUrl : (table ? location.pathname + "/status" : "");
  var known = {};  // sha -> last status shown
  var timer = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function announce(text) {
    if (!live) { return; }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  /* ---------------------------------------------------------------- status table */

  function renderRow(doc) {
    var row = body.querySelector('tr[data-sha="' + doc.sha256 + '"]');
    if (!row) {
      row = el("tr");
      row.dataset.sha = doc.sha256;
      row.dataset.case = doc.case_id;
      var name = el("th");
      name.setAttribute("scope", "row");
      var span = el("span", "filename", doc.name);
      span.setAttribute("data-testid", "name-" + doc.sha256);
      name.appendChild(span);
      var state = el("td");
      var badge = el("span", "badge");
      badge.setAttribute("data-testid", "status-" + doc.sha256);
      var reason = el("span", "reason");
      reason.setAttribute("data-testid", "message-" + doc.sha256);
      state.appendChild(badge);
      state.appendChild(document.createTextNode(" "));
      state.appendChild(reason);
      row.appendChild(name);
      row.appendChild(state);
      row.appendChild(el("td", "actions"));
      row.appendChild(el("td", "", doc.when || ""));
      body.appendChild(row);
    }
    var badgeEl = row.querySelector(".badge");
    badgeEl.className = "badge " + doc.badge;
    badgeEl.textContent = doc.label;
    badgeEl.setAttribute("data-status", doc.status);
    row.querySelector(".reason").textContent = doc.message || "";
    var actions = row.querySelector(".actions");
    while (actions.firstChild) { actions.removeChild(actions.firstChild); }
    (doc.links || []).forEach(function (link) {
      var a = el("a", "button", link.text);
      a.href = link.href;  /* built by the server from a checked sha or copy id */
      actions.appendChild(a);
      actions.appendChild(document.createTextNode(" "));
    });
    var th = row.querySelector("th");
    var type = th.querySelector(".doc-type");
    if (doc.doc_type && !type) {
      th.appendChild(el("br"));
      th.appendChild(el("small", "muted doc-type", doc.doc_type));
    }
    if (known[doc.sha256] !== undefined && known[doc.sha256] !== doc.status) {
      announce(doc.name + ": " + doc.label + (doc.message ? ". " + doc.message : ""));
    }
    known[doc.sha256] = doc.status;
  }

  function refresh() {
    timer = null;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", statusUrl);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (xhr.status !== 200) { schedule(10000); return; }
      var data = JSON.parse(xhr.responseText);
      data.documents.forEach(renderRow);
      if (data.documents.length) {
        table.hidden = false;
        var none = document.getElementById("no-documents");
        if (none) { none.hidden = true; }
      }
      if (data.pending) { schedule(2000); }
    };
    xhr.onerror = function () { schedule(10000); };
    xhr.send();
  }

  function schedule(ms) {
    if (timer === null) { timer = window.setTimeout(refresh, ms); }
  }

  if (body) {
    Array.prototype.forEach.call(body.querySelectorAll("tr[data-sha]"), function (row) {
      var badge = row.querySelector(".badge");
      known[row.dataset.sha] = badge ? badge.getAttribute("data-status") : "";
    });
    if (table && table.dataset.pending === "true") { schedule(2000); }
  }

  /* ---------------------------------------------------------------- upload */

  if (!form) { return; }
  var input = document.getElementById("files");
  var zone = document.getElementById("dropzone");
  var list = document.getElementById("upload-list");
  var button = document.getElementById("upload-button");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var maxFiles = parseInt(form.dataset.maxFiles, 10);
  var token = form.elements.csrf.value;
  var queue = [];
  var busy = false;

  function item(file) {
    var li = el("li");
    var name = el("span", "filename", file.name);
    var bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", form.dataset.msgUploading + ": " + file.name);
    var result = el("span", "result", "");
    result.setAttribute("role", "status");
    li.appendChild(name);
    li.appendChild(bar);
    li.appendChild(result);
    list.appendChild(li);
    return {bar: bar, result: result};
  }

  function done(view, text, bad) {
    view.result.textContent = text;
    if (bad) { view.result.classList.add("bad"); }
  }

  function next() {
    if (busy || !queue.length) {
      if (!busy) { schedule(500); }
      return;
    }
    busy = true;
    var job = queue.shift();
    var data = new FormData();
    data.append("files", job.file, job.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable) {
        job.view.bar.value = Math.round(100 * event.loaded / event.total);
      }
    };
    xhr.onload = function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (xhr.status === 200 && answer && answer.files && answer.files.length) {
        var r = answer.files[0];
        job.view.bar.value = 100;
        done(job.view, r.status === "rejected" ? r.message : form.dataset.msgReceived,
             r.status === "rejected");
        if (r.sha256) { schedule(100); }
      } else {
        done(job.view, form.dataset.msgFailed, true);
      }
      busy = false;
      next();
    };
    xhr.onerror = function () {
      done(job.view, form.dataset.msgFailed, true);
      busy = false;
      next();
    };
    xhr.send(data);
  }

  function add(files) {
    var count = 0;
    Array.prototype.forEach.call(files, function (file) {
      var view = item(file);
      count += 1;
      if (count > maxFiles) {
        done(view, form.dataset.msgTooMany, true);
      } else if (file.size > maxBytes) {
        done(view, form.dataset.msgTooLarge, true);  /* refused here, never sent */
      } else {
        queue.push({file: file, view: view});
      }
    });
    next();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!input.files.length) {
      announce(form.dataset.msgNoFiles);
      input.focus();
      return;
    }
    add(input.files);
    input.value = "";
  });

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("dragover");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.remove("dragover");
    });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) {
      add(event.dataTransfer.files);
    }
  });
  if (button) { button.disabled = false; }
}());
