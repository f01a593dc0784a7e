#!/usr/bin/env bash
# Regenerates the IVR prompts in config/asterisk/sounds/siaga112/{id,en}/ with espeak-ng and sox.
#
# Asterisk plays them with STREAM FILE siaga112/<language>/<name> (no extension), so they are
# 8 kHz mono 16-bit PCM WAV, Asterisk's native "wav" format: no transcoding per call. They are
# band-limited to the telephone band, trimmed, and normalised to -3 dBFS so every prompt plays
# at the same level. sox runs without dither (-D), so the same text always gives the same file.
# Usage: scripts/make_prompts.sh   (needs: apt-get install espeak-ng sox)
set -euo pipefail

cd "$(dirname "$0")/.."
out=config/asterisk/sounds/siaga112
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "make_prompts: $tool is missing (apt-get install espeak-ng sox)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# say VOICE NAME TEXT: one prompt. 150 words a minute: slower than espeak's default, for a
# caller under stress on a noisy line.
say() {
  local voice=$1 name=$2 text=$3
  mkdir -p "$out/$voice"
  espeak-ng -v "$voice" -s 150 -w "$work/$voice-$name.wav" "$text"
  sox -D "$work/$voice-$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$voice/$name.wav" \
    highpass 300 lowpass 3400 \
    silence 1 0.05 0.1% reverse silence 1 0.05 0.1% reverse \
    norm -3 pad 0.15 0.25
}

# Bahasa Indonesia. "112" is spoken digit by digit, as people say the number.
say id welcome          "Anda terhubung dengan layanan darurat satu satu dua."
say id choose_service   "Tekan satu untuk polisi, dua untuk pemadam kebakaran, tiga untuk ambulans, empat untuk bencana, atau tetap di saluran."
say id record_statement "Setelah nada, sebutkan singkat apa yang terjadi dan di mana."
say id silent_check     "Jika Anda tidak bisa berbicara, tekan lima dua kali."
say id silent_confirmed "Kami tahu Anda tidak bisa berbicara. Tetap di saluran, bantuan sedang disambungkan."
say id prank_warning    "Menyalahgunakan satu satu dua adalah pelanggaran hukum. Panggilan Anda tetap disambungkan."
say id connecting       "Mohon tunggu, Anda sedang disambungkan ke petugas."
# Queue first (extensions.conf, queues.conf, musiconhold.conf): the one greeting, at most 3 s,
# heard while a free call-taker's phone already rings; the statement request and the silent
# check, heard only by a caller who waits (they are part of the hold, below); the answer to 55.
say id greeting         "Layanan darurat satu satu dua."
say id statement_request "Semua petugas sedang sibuk. Sebutkan apa yang terjadi dan di mana."
say id silent_noted     "Baik. Tetap di saluran."

# English.
say en welcome          "You are connected to the one one two emergency service."
say en choose_service   "Press 1 for police, 2 for fire, 3 for medical, 4 for disaster, or stay on the line."
say en record_statement "After the tone, briefly say what happened and where."
say en silent_check     "If you cannot speak, press 5 twice."
say en silent_confirmed "We know you cannot speak. Stay on the line, help is being connected."
say en prank_warning    "Misuse of one one two is an offence. Your call is still being connected."
say en connecting       "Please hold, connecting you to an operator."
say en greeting         "One one two emergency."
say en statement_request "All operators are busy. Say what happened and where."
say en silent_noted     "Understood. Stay on the line."

# The hold a caller hears in queue 112 (musiconhold.conf, class siaga112-hold), in name order,
# the last file looped: the greeting once; 4 s of quiet (a free call-taker's phone rings from
# the first second, so a caller answered this soon hears nothing more); then, for a caller who
# really waits, the statement request, 11 s of quiet, the silent check, 11 s of quiet, again and
# again. Hold music plays while phones ring, so none of it holds a call-taker up; and it is
# quiet, never music over the caller's voice, which is recorded for the call-taker.
hold=$out/hold-id
mkdir -p "$hold"
quiet() { sox -D -n -r 8000 -c 1 -b 16 -e signed-integer "$1" trim 0 "$2"; }
cp "$out/id/greeting.wav" "$hold/1-greeting.wav"
quiet "$hold/2-quiet.wav" 4
quiet "$work/quiet11.wav" 11
sox -D "$out/id/statement_request.wav" "$work/quiet11.wav" "$out/id/silent_check.wav" "$work/quiet11.wav" \
  "$hold/3-waiting.wav"
# After 55: the short answer once, then quiet (class siaga112-silent).
silent=$out/hold-silent-id
mkdir -p "$silent"
cp "$out/id/silent_noted.wav" "$silent/1-noted.wav"
quiet "$silent/2-quiet.wav" 10

echo "prompts written to $out"
