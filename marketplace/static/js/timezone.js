// A time zone not chosen yet (a new registration form) starts as the browser's; the person can
// change it. A chosen one (the profile, a form sent back with an error) is left alone.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  document.querySelectorAll("select[data-browser-timezone]").forEach(function (select) {
    if (select.value || !zone) return;
    var known = Array.prototype.some.call(select.options, function (option) {
      return option.value === zone;
    });
    if (known) select.value = zone;
  });
})();
