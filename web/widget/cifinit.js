// cifinit.js: records that Dynamics' CIF library fired CIFInitDone. widget.js
// is a module, so it runs after the page is parsed and may miss an event the
// library fired earlier; core.waitForCIF reads this flag instead.
window.addEventListener("CIFInitDone", function () {
  window.__ctibridgeCIFInitDone = true;
});
