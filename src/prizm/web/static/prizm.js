// Shows or hides form fields that apply only to some choices, such as the access
// key fields of an AWS integration that apply only to the Access Keys method.
// Hidden inputs are disabled, so the browser does not submit them. Without
// JavaScript every field stays visible and the server ignores those that do not
// apply.
(function () {
  "use strict";

  function update(form) {
    form.querySelectorAll("[data-show-field]").forEach(function (row) {
      var controller = form.querySelector('[name="' + row.dataset.showField + '"]');
      if (!controller) {
        return;
      }
      var allowed = row.dataset.showValues.split(" ");
      var visible = allowed.indexOf(controller.value) !== -1;
      row.hidden = !visible;
      row.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !visible;
      });
    });
  }

  function setUp(root) {
    root.querySelectorAll("form[data-dynamic]").forEach(function (form) {
      if (form.dataset.dynamicReady) {
        return;
      }
      form.dataset.dynamicReady = "1";
      form.addEventListener("change", function () {
        update(form);
      });
      update(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUp(document);
  });
  document.addEventListener("htmx:load", function (event) {
    setUp(event.target);
  });
})();
