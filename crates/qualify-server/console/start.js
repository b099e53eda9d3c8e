// Starts the console once every view is registered (the last script of index.html).
"use strict";

(function () {
  const C = window.qualifyConsole;
  const { "$": $, navigate, partnerUrl, render, say, signOut } = C;

  // ---- start -------------------------------------------------------------------------------
  function boot() {
    $("sign-out").addEventListener("click", () => {
      say("Signed out.");
      signOut(null);
    });
    $("open-partner").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("open-partner-id").value.trim();
      if (id) navigate(partnerUrl(id));
    });
    render();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
