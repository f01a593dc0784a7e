// The transcript follows the recording: the word being spoken is highlighted on every
// timeupdate/seeked, and clicking a word seeks the audio to it.
(function () {
  "use strict";
  const audio = document.getElementById("audio");
  const box = document.getElementById("words");
  if (!audio || !box) return;
  const spans = Array.from(box.querySelectorAll("span[data-start]"));
  const starts = spans.map((s) => Number(s.dataset.start));
  const ends = spans.map((s) => Number(s.dataset.end));
  let current = -1;

  // The last word that has started by time t (binary search; words are in spoken order).
  function wordAt(t) {
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    // Between two words (a pause) nothing is lit, so a silence does not look like speech.
    return found >= 0 && t <= ends[found] + 0.25 ? found : -1;
  }

  function highlight() {
    const index = wordAt(audio.currentTime);
    if (index === current) return;
    if (current >= 0) spans[current].classList.remove("current");
    current = index;
    box.dataset.current = index >= 0 ? String(index) : "";
    if (index >= 0) {
      spans[index].classList.add("current");
      spans[index].scrollIntoView({ block: "nearest" });
    }
  }

  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
  box.addEventListener("click", (event) => {
    const span = event.target.closest("span[data-start]");
    if (!span) return;
    audio.currentTime = Number(span.dataset.start);
    audio.play().catch(() => {});
  });
})();
