// The registration desk's keyboard help. The form works without it: "Add member" is then a
// submit button that brings the form back with one more row, and Enter registers.
//  - Alt+N adds a member row and puts the cursor in its given name.
//  - Ctrl+Enter (Cmd+Enter) registers from anywhere on the page.
//  - Each name box shows the alphabet it is typed in, and flags a name that mixes alphabets.
//  - The desk-time check: once a member's names, sex and birth date (or age) are typed, the people
//    already registered at any site who may be them show under the row (advice: nothing is
//    blocked, and the cursor stays where it is).
(function () {
  "use strict";
  var form = document.getElementById("desk-form");
  if (!form) return;
  var rows = document.getElementById("member-rows");
  var template = document.getElementById("member-template");
  var addButton = document.getElementById("add-member");
  var registerButton = document.getElementById("register");
  var spare = JSON.parse(document.getElementById("spare-uuids").textContent);
  var maxMembers = parseInt(form.dataset.maxMembers, 10);

  // This script handles Alt+N itself; the access key stays for browsers without JavaScript only.
  addButton.removeAttribute("accesskey");

  function addMember() {
    var count = rows.querySelectorAll("[data-row]").length;
    if (count >= maxMembers || spare.length === 0) return;
    var html = template.innerHTML
      .replace(/__i__/g, String(count))
      .replace(/__n__/g, String(count + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    // Member UUIDs come from the server with the page, so a resubmitted form is the same payload.
    row.querySelector('input[name$="-uuid"]').value = spare.shift();
    rows.appendChild(row);
    watchNames(row);
    watchCheck(row);
    row.querySelector('input[name$="-given_name"]').focus();
  }

  addButton.addEventListener("click", function (event) {
    event.preventDefault();
    addMember();
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey && !event.ctrlKey && !event.metaKey && (event.code === "KeyN" || event.key === "n" || event.key === "N")) {
      event.preventDefault();
      addMember();
    } else if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit(registerButton);
    }
  });

  var submitted = false;
  form.addEventListener("submit", function (event) {
    // One registration per form: a second press while the first is on its way does nothing.
    if (submitted) {
      event.preventDefault();
      return;
    }
    submitted = true;
  });
  window.addEventListener("pageshow", function () { submitted = false; });

  var ARMENIAN = /[\u0531-\u0587\uFB13-\uFB17]/;
  var CYRILLIC = /[\u0400-\u04FF\u0500-\u052F]/;
  var LATIN = /[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]/;
  var LANG = { armenian: "hy", cyrillic: "ru", latin: "" };

  function scriptOf(text) {
    var found = [];
    if (ARMENIAN.test(text)) found.push("armenian");
    if (CYRILLIC.test(text)) found.push("cyrillic");
    if (LATIN.test(text)) found.push("latin");
    if (found.length > 1) return "mixed";
    return found[0] || "";
  }

  function showScript(input) {
    var tag = input.nextElementSibling;
    var script = scriptOf(input.value);
    // The language follows what is typed, so spell-checkers and screen readers read it right.
    input.lang = LANG[script] || "";
    if (!tag || !tag.classList.contains("script")) return;
    tag.textContent = script ? form.dataset["script" + script.charAt(0).toUpperCase() + script.slice(1)] : "";
    tag.classList.toggle("mixed", script === "mixed");
  }

  function watchNames(scope) {
    scope.querySelectorAll("[data-name-field]").forEach(function (input) {
      input.addEventListener("input", function () { showScript(input); });
      showScript(input);
    });
  }

  watchNames(form);

  // --- the desk-time check ------------------------------------------------------------------
  var checkUrl = form.dataset.checkUrl;
  var csrfToken = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
  var origin = document.getElementById("id_origin_settlement");
  var CHECK_DELAY = 250; // ms after the last change: a burst of Tabs makes one request
  var BIRTH_DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;
  var AGE = /^\d{1,3}$/;
  var PHONE = /^\+?[0-9 ()\-.]{6,30}$/;
  var DOCUMENT = /^[0-9A-Za-z\-\/ ]{2,40}$/;
  var DOCUMENT_INPUTS = ["document_number", "document_2_number", "document_3_number"];

  function value(row, name) {
    var input = row.querySelector('[name="' + row.id + "-" + name + '"]');
    return input ? input.value.trim() : "";
  }

  // What identifies the member, as the check reads it; null until there is enough to look up.
  // Values the registration would refuse are left out: its own errors point them out.
  function checkBody(row) {
    var body = {
      given_name: value(row, "given_name"),
      family_name: value(row, "family_name"),
      patronymic: value(row, "patronymic"),
      sex: value(row, "sex"),
      origin_settlement: origin ? origin.value.trim() : ""
    };
    if (!body.given_name || !body.family_name || !body.sex) return null;
    var birth = value(row, "birth_date");
    var age = value(row, "estimated_age");
    if (BIRTH_DATE.test(birth)) body.birth_date = birth;
    else if (!birth && AGE.test(age)) body.estimated_age = parseInt(age, 10);
    else return null;
    var phone = value(row, "phone");
    if (PHONE.test(phone)) body.phone = phone;
    body.documents = DOCUMENT_INPUTS.map(function (name) { return value(row, name); })
      .filter(function (number) { return DOCUMENT.test(number); });
    return body;
  }

  function panelOf(row) {
    var panel = document.getElementById("check-" + row.id);
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "check";
      panel.id = "check-" + row.id;
      panel.setAttribute("role", "status");
      panel.setAttribute("aria-live", "polite");
    }
    if (panel.parentNode !== row) {
      // Under the member's own fields, above its collapsed blocks.
      row.insertBefore(panel, row.querySelector(".more"));
      var member = panel.querySelector(".check-member");
      if (member) member.remove();
    }
    return panel;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function registeredOn(iso) {
    try {
      // "sv-SE" writes dates as YYYY-MM-DD; the day is the one at the desk's time zone.
      return new Date(iso).toLocaleDateString("sv-SE", { timeZone: form.dataset.timeZone });
    } catch (error) {
      return iso.slice(0, 10);
    }
  }

  function percent(probability) {
    return probability >= 0.995 ? ">99%" : Math.round(probability * 100) + "%";
  }

  function reasonList(label, reasons) {
    var span = element("span", label === form.dataset.checkAgrees ? "agrees" : "differs", label + " ");
    reasons.forEach(function (reason) { span.appendChild(element("span", "reason", reason.text)); });
    return span;
  }

  // The same markup as identity/_candidates.html, which draws it when the page comes back.
  function showCandidates(row, candidates) {
    var panel = panelOf(row);
    panel.textContent = "";
    if (!candidates.length) return;
    panel.appendChild(element("p", "check-title", form.dataset.checkTitle));
    var list = element("ul");
    candidates.forEach(function (c) {
      var item = element("li", "candidate");
      var who = element("span", "who", [c.given_name, c.patronymic, c.family_name].filter(Boolean).join(" "));
      who.lang = "";
      item.appendChild(who);
      var birth = c.birth_date + (c.birth_date_estimated ? " " + form.dataset.checkEstimated : "");
      item.appendChild(document.createTextNode(" · " + c.sex + " · " + birth + " · " + c.site.name + " "));
      item.appendChild(element("span", "tag", c.site.code));
      item.appendChild(document.createTextNode(
        " · " + form.dataset.checkRegistered.replace("%s", registeredOn(c.registered_at)) + " · "));
      item.appendChild(element("strong", "probability", percent(c.probability)));
      var why = element("span", "why");
      var agrees = c.reasons.filter(function (r) { return r.weight > 0; });
      var differs = c.reasons.filter(function (r) { return r.weight <= 0; });
      if (agrees.length) why.appendChild(reasonList(form.dataset.checkAgrees, agrees));
      if (differs.length) why.appendChild(reasonList(form.dataset.checkDiffers, differs));
      item.appendChild(why);
      list.appendChild(item);
    });
    panel.appendChild(list);
  }

  function check(row) {
    var body = checkBody(row);
    var key = body ? JSON.stringify(body) : "";
    if (key === row.dataset.checked) return; // nothing that identifies the member changed
    row.dataset.checked = key;
    if (!body) {
      showCandidates(row, []);
      return;
    }
    var asked = (parseInt(row.dataset.checkAsked || "0", 10) + 1).toString();
    row.dataset.checkAsked = asked;
    fetch(checkUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: key
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (answer) {
      // A slow answer to an older question must not replace a newer one.
      if (row.dataset.checkAsked === asked) showCandidates(row, answer.candidates);
    }).catch(function () {
      // Advice only: a refused or failed check leaves the desk as it was, and asks again next time.
      if (row.dataset.checkAsked === asked) row.dataset.checked = "";
    });
  }

  function scheduleCheck(row) {
    window.clearTimeout(row.checkTimer);
    row.checkTimer = window.setTimeout(function () { check(row); }, CHECK_DELAY);
  }

  function watchCheck(row) {
    panelOf(row);
    row.addEventListener("change", function () { scheduleCheck(row); });
    row.addEventListener("focusout", function () { scheduleCheck(row); });
  }

  rows.querySelectorAll("[data-row]").forEach(function (row) {
    watchCheck(row);
    // A form sent back with the server's panel shows it already: ask only once something changes.
    var panel = document.getElementById("check-" + row.id);
    if (panel && panel.childElementCount) row.dataset.checked = JSON.stringify(checkBody(row));
  });
  var checks = document.getElementById("desk-checks");
  if (checks) checks.remove();
  if (origin) {
    origin.addEventListener("change", function () {
      rows.querySelectorAll("[data-row]").forEach(scheduleCheck);
    });
  }
})();
