// Keys for the moderators' UI. Everything here is a shortcut for a link or a form that
// works without JavaScript; no comment text is ever read or written here.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) !== -1);
  }

  // The list of keys opens with the "open" class. Without JavaScript the ? link opens it as
  // the #keys :target instead, which the class cannot close: with it, that link is handled
  // here, and a page loaded at #keys leaves that target (history.replaceState alone would
  // keep it) when the list is closed.
  function showKeys(open) {
    var panel = document.getElementById("keys");
    if (!panel) { return; }
    panel.classList.toggle("open", open);
    if (!open && panel.matches(":target")) {
      window.location.replace("#");
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function keysShown() {
    var panel = document.getElementById("keys");
    return !!panel && (panel.classList.contains("open") || panel.matches(":target"));
  }

  // Enter on a focused link, button or field is that element's, never a shortcut's.
  function interactive(target) {
    return typing(target) || (target && target.closest && !!target.closest("a, button, summary"));
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link) { window.location.assign(link.href); }
  }

  function submitAction(formId, action) {
    var form = document.getElementById(formId);
    if (!form) { return; }
    var button = form.querySelector('button[name="action"][value="' + action + '"]');
    if (button) { form.requestSubmit(button); }
  }

  // Queue page: a moving selection over the rows.
  function queueKeys(key) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.item"));
    if (!rows.length) { return false; }
    var current = rows.findIndex(function (row) { return row.classList.contains("selected"); });
    function select(index) {
      rows.forEach(function (row) { row.classList.remove("selected"); });
      var row = rows[Math.max(0, Math.min(rows.length - 1, index))];
      row.classList.add("selected");
      row.scrollIntoView({ block: "nearest" });
      return row;
    }
    if (key === "j") { select(current + 1); return true; }
    if (key === "k") { select(current < 0 ? 0 : current - 1); return true; }
    var row = current >= 0 ? rows[current] : null;
    function box(of) { return of.querySelector('input[type="checkbox"]'); }
    if (key === "a" || key === "r") {
      // Through the bulk form: the ticked comments (x) if any, else the selected row alone.
      if (!rows.some(function (other) { return box(other).checked; })) {
        if (!row) { return false; }
        box(row).checked = true;
      }
      var form = document.querySelector("form.bulk");
      var button = form.querySelector('button[name="action"][value="' + (key === "a" ? "approve" : "reject") + '"]');
      if (button) { form.requestSubmit(button); }
      return true;
    }
    if (!row) { return false; }
    if (key === "Enter" || key === "o") { row.querySelector("a.open").click(); return true; }
    if (key === "x") { box(row).checked = !box(row).checked; return true; }
    return false;
  }

  function itemKeys(key) {
    if (key === "j") { follow("next"); return true; }
    if (key === "k") { follow("previous"); return true; }
    if (key === "a") { submitAction("approve-form", "approve"); return true; }
    if (key === "r") { submitAction("reject-form", "reject"); return true; }
    return false;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.keys-link, #keys a.close");
    if (!link) { return; }
    event.preventDefault();
    showKeys(link.classList.contains("keys-link") ? !keysShown() : false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    // Escape leaves a field (say the reject reason just chosen), so that keys work again.
    if (key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target) || (key === "Enter" && interactive(event.target))) { return; }
    if (key === "?") { showKeys(!keysShown()); event.preventDefault(); return; }
    if (key === "Escape") { showKeys(false); return; }
    var page = document.body.getAttribute("data-page");
    var handled = page === "queue" ? queueKeys(key) : page === "item" ? itemKeys(key) : false;
    if (handled) { event.preventDefault(); }
  });
}());
