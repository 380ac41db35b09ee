// Select-all for the hours approval queue (progressive enhancement; the page works without it).
(function () {
  var all = document.getElementById("select-all");
  if (!all) { return; }
  all.hidden = false;
  var label = document.querySelector("label[for=select-all]");
  if (label) { label.hidden = false; }
  all.addEventListener("change", function () {
    var boxes = document.querySelectorAll("input[name=log_id]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = all.checked; }
  });
})();
