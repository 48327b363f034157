// Keys for the moderators' UI. Everything here is a shortcut for a link or a form that
// works without JavaScript. Comment text reaches the page only as HTML the server rendered
// and escaped (the author drawer); this script never builds markup from text.
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

  // Tells the moderator what happened, in the page's live region (text only, never HTML).
  function say(message) {
    var live = document.getElementById("live");
    if (live) { live.textContent = message; }
  }

  function updateCounts(counts) {
    if (!counts) { return; }
    Object.keys(counts).forEach(function (queue) {
      var cell = document.querySelector('.count[data-queue="' + queue + '"]');
      if (cell) { cell.textContent = Number(counts[queue]).toLocaleString("en"); }
    });
  }

  function reasonsOf(row) {
    return row && row.dataset.reasons ? row.dataset.reasons.split("|") : [];
  }

  // The key bar names the selected row's suggested reason and its site's numbered reasons.
  function showReasons(row) {
    var suggested = document.getElementById("suggested");
    if (suggested && row) { suggested.textContent = row.dataset.reason || "(choose a number)"; }
  }

  // Queue page: a moving selection over the rows; a decision on the selected row is sent
  // at once and the selection moves on, without reloading the page.
  function liveRows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.item:not(.deciding)"));
  }

  function select(rows, index) {
    rows.forEach(function (row) { row.classList.remove("selected"); });
    if (!rows.length) { return null; }
    var row = rows[Math.max(0, Math.min(rows.length - 1, index))];
    row.classList.add("selected");
    row.scrollIntoView({ block: "nearest" });
    showReasons(row);
    return row;
  }

  var inFlight = 0;

  // The decision just taken in place can be taken back (u) for a minute.
  function offerUndo(row, action) {
    var form = document.getElementById("undo-form");
    if (!form) { return; }
    form.action = row.dataset.decide.replace(/decision$/, "undo");
    document.getElementById("undo-what").textContent =
      "You " + (action === "approve" ? "approved" : "rejected") + " comment " + row.dataset.id + ".";
    form.hidden = false;
  }

  function undoLast() {
    var form = document.getElementById("undo-form");
    if (!form || form.hidden) { return false; }
    form.requestSubmit();
    return true;
  }

  function decideInPlace(row, action, reason) {
    if (action === "reject" && !reason) {
      say("No reason is suggested for this comment: press 1-" + reasonsOf(row).length +
          " to reject it with one.");
      return;
    }
    var form = document.querySelector("form.bulk");
    var data = new FormData();
    data.append("csrf_token", form.querySelector('input[name="csrf_token"]').value);
    data.append("action", action);
    if (reason) { data.append("reason", reason); }
    var rows = liveRows();
    var index = rows.indexOf(row);
    row.classList.add("deciding");
    row.classList.remove("selected");
    select(liveRows(), index);
    inFlight += 1;
    fetch(row.dataset.decide, { method: "POST", body: data, credentials: "same-origin",
                                headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        say(result.body.message || "");
        if (result.ok) {
          row.remove();
          updateCounts(result.body.counts);
          offerUndo(row, action);
        } else {
          row.classList.remove("deciding");
          row.classList.add("failed");
        }
      })
      .catch(function () {
        row.classList.remove("deciding");
        row.classList.add("failed");
        say("Not decided: the connection failed. Try again.");
      })
      .then(function () {
        inFlight -= 1;
        // The page is worked through: fetch the next one.
        if (!inFlight && !document.querySelector("tr.item")) { window.location.reload(); }
      });
  }

  // The author's history and standing, fetched from their page (rendered and escaped by the
  // server) into the drawer beside the list; its forms post as on that page.
  function openDrawer(link) {
    var drawer = document.getElementById("drawer");
    if (!drawer || !link) { return; }
    var url = new URL(link.href);
    url.searchParams.set("drawer", "1");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        drawer.innerHTML = html;
        drawer.hidden = false;
      })
      .catch(function () { window.location.assign(link.href); });
  }

  function closeDrawer() {
    var drawer = document.getElementById("drawer");
    if (!drawer || drawer.hidden) { return false; }
    drawer.hidden = true;
    return true;
  }

  function queueKeys(key) {
    var rows = liveRows();
    if (!rows.length) { return false; }
    var current = rows.findIndex(function (row) { return row.classList.contains("selected"); });
    if (key === "j") { select(rows, current + 1); return true; }
    if (key === "k") { select(rows, current < 0 ? 0 : current - 1); return true; }
    var row = current >= 0 ? rows[current] : null;
    function box(of) { return of.querySelector('input[type="checkbox"]'); }
    var number = /^[1-9]$/.test(key) ? Number(key) : 0;
    if (key === "a" || key === "r" || number) {
      var form = document.querySelector("form.bulk");
      var ticked = rows.some(function (other) { return box(other).checked; });
      if (ticked || !row || !row.dataset.decide) {
        // The ticked comments, through the bulk form (its reason, or the number's).
        if (!ticked && row) { box(row).checked = true; }
        if (!ticked && !row) { return false; }
        if (number) {
          var choice = form.querySelector('select[name="reason"]');
          var option = choice && choice.options[number];  // options[0] is "reason..."
          if (!option) { return false; }
          choice.value = option.value;
        }
        var button = form.querySelector('button[name="action"][value="' +
                                        (key === "a" ? "approve" : "reject") + '"]');
        if (button) { form.requestSubmit(button); }
        return true;
      }
      if (key === "a") { decideInPlace(row, "approve"); return true; }
      var reason = number ? reasonsOf(row)[number - 1] : row.dataset.reason;
      if (number && !reason) { return false; }
      decideInPlace(row, "reject", reason);
      return true;
    }
    if (!row) { return false; }
    if (key === "h") { openDrawer(row.querySelector("a.author")); return true; }
    if (key === "Enter" || key === "o") { row.querySelector("a.open").click(); return true; }
    if (key === "x") { box(row).checked = !box(row).checked; return true; }
    return false;
  }

  function itemKeys(key) {
    if (key === "j") { follow("next"); return true; }
    if (key === "k") { follow("previous"); return true; }
    if (key === "a") { submitAction("approve-form", "approve"); return true; }
    if (key === "f") {
      var feature = document.getElementById("feature-form");
      if (feature) { feature.requestSubmit(); return true; }
      return false;
    }
    var reason = document.getElementById("reject-reason");
    if (/^[1-9]$/.test(key) && reason) {
      var option = reason.options[Number(key)];  // options[0] is "choose"
      if (!option) { return false; }
      reason.value = option.value;
      submitAction("reject-form", "reject");
      return true;
    }
    if (key === "r") {
      if (reason && !reason.value) { reason.focus(); return true; }  // no reason suggested
      submitAction("reject-form", "reject");
      return true;
    }
    return false;
  }

  // On a queue where decisions are taken, the first row starts selected.
  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.getAttribute("data-page") !== "queue") { return; }
    var first = document.querySelector("tr.item[data-decide]");
    if (first) { select(liveRows(), 0); }
  });

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
    if (key === "Escape") { if (!closeDrawer()) { showKeys(false); } return; }
    var page = document.body.getAttribute("data-page");
    var handled = key === "u" ? undoLast()
      : page === "queue" ? queueKeys(key) : page === "item" ? itemKeys(key) : false;
    if (handled) { event.preventDefault(); }
  });
}());
