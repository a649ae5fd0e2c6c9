// The registration desk's keyboard help. The form works without it: "Add member" is then a
// submit button that brings the form back with one more row, and Enter registers.
//  - Alt+N adds a member row and puts the cursor in its given name.
//  - Ctrl+Enter (Cmd+Enter) registers from anywhere on the page.
//  - Each name box shows the alphabet it is typed in, and flags a name that mixes alphabets.
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
})();
