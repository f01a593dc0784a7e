/* The call-back list: one click rings the call-taker's phone, then the caller. */
"use strict";

(() => {
  const { t, api, on } = Siaga;
  for (const cell of document.querySelectorAll("[data-time]")) cell.textContent = Siaga.clock(cell.dataset.time);
  for (const button of document.querySelectorAll("button.callback")) {
    button.addEventListener("click", async () => {
      const result = button.parentElement.querySelector(".callback-result");
      button.disabled = true;
      try {
        await api("POST", `/api/v1/console/calls/${button.dataset.callId}/callback`);
        result.textContent = t("callbacks.started");
      } catch (error) {
        result.textContent = t("error.failed") + error.message;
      } finally {
        button.disabled = false;
      }
    });
  }
  /* A call that ended may be one to call back: reload the list when it is not in use. */
  on("call.ended", () => { if (!document.activeElement || document.activeElement === document.body) window.location.reload(); });
})();
