// Moderation queue: a "select all" box for the rows of the page (the page works without it).
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (!all) {
    return;
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("input.row-select"));
  all.hidden = false;
  function sync() {
    var checked = rows.filter(function (box) { return box.checked; }).length;
    all.checked = checked === rows.length && rows.length > 0;
    all.indeterminate = checked > 0 && checked < rows.length;
  }
  all.addEventListener("change", function () {
    rows.forEach(function (box) { box.checked = all.checked; });
  });
  rows.forEach(function (box) { box.addEventListener("change", sync); });
  sync();
})();
