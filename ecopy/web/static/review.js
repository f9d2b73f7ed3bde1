/* Review screen: place the field boxes over the page images and link each box to its input.
   Box positions come from data-* attributes (percent of the page); the CSP allows setting
   element.style from script. No data is ever written as HTML. */
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 901px)");

  function boxesFor(name) {
    return document.querySelectorAll('.fieldbox[data-field="' + CSS.escape(name) + '"]');
  }

  function controlFor(name) {
    return document.querySelector('input[data-field="' + CSS.escape(name) + '"]') ||
      document.querySelector('dd[data-field="' + CSS.escape(name) + '"]');
  }

  function setActive(name, on) {
    boxesFor(name).forEach(function (box) {
      box.classList.toggle("active", on);
      if (on && box.scrollIntoView && wide.matches) {  /* phones: keep the input in view */
        box.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
    });
    var control = controlFor(name);
    if (control) {
      var wrap = control.closest(".field") || control;
      wrap.classList.toggle("active", on);
    }
  }

  function num(value) {
    var n = parseFloat(value);
    return isFinite(n) ? Math.max(0, Math.min(100, n)) : 0;
  }

  document.querySelectorAll(".fieldbox").forEach(function (box) {
    box.style.left = num(box.dataset.left) + "%";
    box.style.top = num(box.dataset.top) + "%";
    box.style.width = num(box.dataset.width) + "%";
    box.style.height = num(box.dataset.height) + "%";
    box.classList.add("placed");
    var name = box.dataset.field;
    box.addEventListener("mouseenter", function () { setActive(name, true); });
    box.addEventListener("mouseleave", function () { setActive(name, false); });
    box.addEventListener("click", function () {
      var control = controlFor(name);
      if (control) { control.focus(); }
    });
  });

  document.querySelectorAll("[data-field]").forEach(function (el) {
    if (el.classList.contains("fieldbox") || el.classList.contains("field")) { return; }
    var name = el.dataset.field;
    el.addEventListener("focus", function () { setActive(name, true); });
    el.addEventListener("blur", function () { setActive(name, false); });
  });

  /* one submit per click: a second press while the page loads would send the form twice */
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.setAttribute("aria-busy", "true");
      });
    });
  });
})();
