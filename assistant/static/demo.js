/* The demo page's language switch: ?lang=fi|sv|en sets the widget's data-lang before the widget starts
 * (this script comes after the widget's tag and runs at once; widget.js is deferred to the end of parsing) and marks the chosen language. */
(() => {
  "use strict";
  const wanted = new URLSearchParams(window.location.search).get("lang");
  const lang = ["fi", "sv", "en"].includes(wanted) ? wanted : "fi";
  const widget = document.querySelector('script[src="/widget.js"]');
  if (widget) widget.setAttribute("data-lang", lang);
  for (const link of document.querySelectorAll(".lang-switch a[data-lang]")) {
    if (link.getAttribute("data-lang") === lang) link.setAttribute("aria-current", "true");
  }
})();
