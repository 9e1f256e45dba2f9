// Renders the TeX in titles and abstracts ($…$, $$…$$, \(…\)) with the vendored KaTeX, offline.
// A formula KaTeX cannot parse stays as its source text.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof renderMathInElement !== "function") return;
  var options = {
    delimiters: [
      { left: "$$", right: "$$", display: false },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
    // Comments and notes are written by users: no formula may grow past the page or expand without end.
    maxSize: 10,
    maxExpand: 200,
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option", "input"],
  };
  document.querySelectorAll(".tex").forEach(function (el) { renderMathInElement(el, options); });
});
