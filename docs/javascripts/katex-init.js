// Render the TeX that pymdownx.arithmatex (generic mode) leaves in .arithmatex elements, with the
// KaTeX copy served from this site (no CDN). Re-runs on every instant-navigation page change.
document$.subscribe(() => {
  for (const el of document.querySelectorAll(".arithmatex")) {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: true,
    });
  }
});
