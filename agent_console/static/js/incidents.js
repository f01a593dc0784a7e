/* The incidents list: local times, "n" for a new incident, and a reload when one changes. */
"use strict";

for (const cell of document.querySelectorAll("[data-time]")) cell.textContent = Siaga.clock(cell.dataset.time);
Siaga.key("n", () => window.location.assign("/incidents/new"));
Siaga.on("incident.created incident.updated", () => window.location.reload());
