// Searchable country pickers, without a library (the page works without them too):
// - a <select data-country-picker>: a box above it where typing a country's name (any case,
//   accents or not) chooses it, with the names offered as the browser's suggestions;
// - a <fieldset class="country-picker"> of checkboxes (an offer's countries): a box that
//   filters the list, and the names ticked so far.
(function () {
  "use strict";
  var labels = document.body.dataset;

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }

  function searchBox(label) {
    var input = document.createElement("input");
    input.type = "search";
    input.autocomplete = "off";
    input.className = "country-search";
    input.placeholder = label;
    input.setAttribute("aria-label", label);
    return input;
  }

  document.querySelectorAll("select[data-country-picker]").forEach(function (select) {
    var list = document.createElement("datalist");
    list.id = select.id + "-names";
    var codes = {};
    Array.prototype.forEach.call(select.options, function (option) {
      if (!option.value) return;
      var suggestion = document.createElement("option");
      suggestion.value = option.text;
      list.appendChild(suggestion);
      codes[fold(option.text)] = option.value;
      codes[fold(option.value)] = option.value;
    });
    var input = searchBox(labels.countrySearch || "");
    input.id = select.id + "-search";
    input.setAttribute("list", list.id);
    input.addEventListener("input", function () {
      var code = codes[fold(input.value)];
      if (code && select.value !== code) {
        select.value = code;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    select.parentNode.insertBefore(list, select);
    select.parentNode.insertBefore(input, select);
  });

  document.querySelectorAll("fieldset.country-picker").forEach(function (fieldset) {
    var items = Array.prototype.slice.call(fieldset.querySelectorAll("li"));
    var input = searchBox(labels.countrySearch || "");
    input.id = fieldset.id + "-search";
    var chosen = document.createElement("p");
    chosen.className = "country-chosen";
    chosen.id = fieldset.id + "-chosen";
    chosen.setAttribute("aria-live", "polite");

    function showChosen() {
      var names = items
        .filter(function (item) { return item.querySelector("input").checked; })
        .map(function (item) { return item.textContent.trim(); });
      chosen.textContent = names.length ? names.join(", ") : (labels.countryNone || "");
    }

    input.addEventListener("input", function () {
      var wanted = fold(input.value);
      items.forEach(function (item) {
        item.hidden = wanted !== "" && fold(item.textContent).indexOf(wanted) === -1;
      });
    });
    // Enter in the box ticks the only country left rather than sending the form.
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var shown = items.filter(function (item) { return !item.hidden; });
      if (shown.length === 1) {
        var box = shown[0].querySelector("input");
        box.checked = !box.checked;
        showChosen();
      }
    });
    fieldset.addEventListener("change", showChosen);
    var list = fieldset.querySelector(".country-picker-list");
    fieldset.insertBefore(chosen, list);
    fieldset.insertBefore(input, list);
    showChosen();
  });
})();
