// Keys for the moderators' UI. Everything here is a shortcut for a link or a form that
// works without JavaScript; no comment text is ever read or written here.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) !== -1);
  }

  function toggleKeys() {
    var panel = document.getElementById("keys");
    if (panel) { panel.classList.toggle("open"); }
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
    if (!row) { return false; }
    if (key === "Enter" || key === "o") { row.querySelector("a.open").click(); return true; }
    if (key === "x") { var box = row.querySelector('input[type="checkbox"]'); box.checked = !box.checked; return true; }
    if (key === "a" || key === "r") {
      // Act on the selected row alone, through the bulk form.
      rows.forEach(function (other) { other.querySelector('input[type="checkbox"]').checked = other === row; });
      var form = document.querySelector("form.bulk");
      var button = form.querySelector('button[name="action"][value="' + (key === "a" ? "approve" : "reject") + '"]');
      if (button) { form.requestSubmit(button); }
      return true;
    }
    return false;
  }

  function itemKeys(key) {
    if (key === "j") { follow("next"); return true; }
    if (key === "k") { follow("previous"); return true; }
    if (key === "a") { submitAction("approve-form", "approve"); return true; }
    if (key === "r") { submitAction("reject-form", "reject"); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    if (key === "?") { toggleKeys(); event.preventDefault(); return; }
    if (key === "Escape") { var panel = document.getElementById("keys"); if (panel) { panel.classList.remove("open"); } return; }
    var page = document.body.getAttribute("data-page");
    var handled = page === "queue" ? queueKeys(key) : page === "item" ? itemKeys(key) : false;
    if (handled) { event.preventDefault(); }
  });
}());
