"""The console's words in Bahasa Indonesia (the default) and English, and which one a person sees.

One small catalogue: key -> (Indonesian, English). Pages use `t("key")`; scripts get the whole
catalogue for the page's language as JSON and look words up the same way.
"""

from __future__ import annotations

import functools
import importlib

from flask import current_app, g, session

LANGUAGES = ("id", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "app.tagline": ("Pusat Panggilan Darurat 112", "112 Emergency Call Center"),
    "nav.queue": ("Antrean", "Queue"),
    "nav.callbacks": ("Panggil balik", "Call-backs"),
    "nav.incidents": ("Insiden", "Incidents"),
    "nav.map": ("Peta", "Map"),
    "nav.supervisor": ("Supervisor", "Supervisor"),
    "nav.logout": ("Keluar", "Sign out"),
    "nav.language": ("English", "Bahasa Indonesia"),
    "role.calltaker": ("Penerima panggilan", "Call-taker"),
    "role.dispatcher": ("Dispatcher", "Dispatcher"),
    "role.supervisor": ("Supervisor", "Supervisor"),
    "role.admin": ("Admin", "Admin"),
    "live.connected": ("Langsung", "Live"),
    "live.reconnecting": ("Menyambung ulang…", "Reconnecting…"),
    # login
    "login.title": ("Masuk", "Sign in"),
    "login.username": ("Nama pengguna", "Username"),
    "login.password": ("Kata sandi", "Password"),
    "login.submit": ("Masuk", "Sign in"),
    "login.failed": ("Nama pengguna atau kata sandi salah.", "Wrong username or password."),
    "login.expired": ("Sesi berakhir; silakan masuk lagi.", "Your session ended; please sign in again."),
    "login.signed_out": ("Anda sudah keluar.", "You are signed out."),
    # queue
    "queue.title": ("Antrean panggilan", "Call queue"),
    "queue.empty": ("Tidak ada panggilan menunggu.", "No calls waiting."),
    "queue.search": ("Cari penelepon, lokasi, pernyataan…", "Search caller, location, statement…"),
    "queue.caller": ("Penelepon", "Caller"),
    "queue.wait": ("Menunggu", "Waiting"),
    "queue.priority": ("Prioritas", "Priority"),
    "queue.location": ("Lokasi", "Location"),
    "queue.category": ("Kategori", "Category"),
    "queue.statement": ("Pernyataan", "Statement"),
    "queue.open": ("Buka", "Open"),
    "alarms.title": ("Alarm & SOS", "Alarms & SOS"),
    "alarms.empty": ("Tidak ada alarm terbuka.", "No open alarms."),
    "mark.repeat": ("Ulang", "Repeat"),
    "mark.prank": ("Dugaan iseng", "Prank suspect"),
    "mark.silent": ("Senyap", "Silent"),
    "mark.blocked": ("Pelapor diblokir", "Reporter blocked"),
    "caller.withheld": ("Nomor disembunyikan", "Number withheld"),
    "location.none": ("Belum ada lokasi", "No location yet"),
    "transcript.pending": ("Transkrip sedang dibuat…", "Transcript in progress…"),
    "transcript.unavailable": ("Transkrip tidak tersedia", "No transcript available"),
    "transcript.none": ("Tidak ada pernyataan", "No statement"),
    # call view
    "call.title": ("Panggilan", "Call"),
    "call.state": ("Status", "State"),
    "call.started": ("Mulai", "Started"),
    "call.service": ("Pilihan layanan", "Service choice"),
    "call.transcript": ("Pernyataan penelepon", "Caller's statement"),
    "call.locations": ("Lokasi dari berbagai sumber", "Locations from every source"),
    "call.source": ("Sumber", "Source"),
    "call.accuracy": ("Akurasi", "Accuracy"),
    "call.age": ("Umur", "Age"),
    "call.coordinates": ("Koordinat", "Coordinates"),
    "call.confirm": ("Konfirmasi", "Confirm"),
    "call.confirmed": ("Dikonfirmasi", "Confirmed"),
    "call.newer_fix": ("Ada lokasi lebih baru", "Newer fix available"),
    "call.manual": ("Lokasi dari ucapan penelepon", "Location from the caller's words"),
    "call.manual_add": ("Tambah", "Add"),
    "call.earlier": ("Panggilan sebelumnya dari nomor ini", "Earlier calls from this number"),
    "call.earlier_none": ("Tidak ada.", "None."),
    "call.nearby": ("Insiden terbuka di sekitar", "Open incidents nearby"),
    "call.nearby_none": ("Tidak ada insiden terbuka di sekitar.", "No open incidents nearby."),
    "call.join": ("Gabung ke insiden ini", "Join this incident"),
    "call.joined": ("Tergabung ke insiden", "Joined to incident"),
    "call.new_incident": ("Insiden baru", "New incident"),
    "call.copy": ("Salin", "Copy"),
    "call.not_found": ("Panggilan tidak ditemukan.", "No such call."),
    # call-backs
    "callbacks.title": ("Panggilan terputus & senyap", "Abandoned and silent calls"),
    "callbacks.empty": ("Tidak ada panggilan untuk dipanggil balik.", "No calls to call back."),
    "callbacks.call_back": ("Panggil balik", "Call back"),
    "callbacks.unavailable": ("Panggil balik belum tersedia: AMI tidak dikonfigurasi.",
                              "Call-back is not available: AMI is not configured."),
    "callbacks.last": ("Terakhir dipanggil balik", "Last called back"),
    "callbacks.started": ("Panggilan balik dimulai.", "Call-back started."),
    "callbacks.reason": ("Alasan", "Reason"),
    "state.abandoned": ("Terputus", "Abandoned"),
    "state.queued": ("Menunggu", "Queued"),
    "state.answered": ("Dijawab", "Answered"),
    "state.completed": ("Selesai", "Completed"),
    "state.ivr": ("Di IVR", "In IVR"),
    # incidents
    "incidents.title": ("Insiden terbuka", "Open incidents"),
    "incidents.empty": ("Tidak ada insiden terbuka.", "No open incidents."),
    "incident.new": ("Insiden baru", "New incident"),
    "incident.from_call": ("dari panggilan", "from call"),
    "incident.from_alarm": ("dari alarm", "from alarm"),
    "incident.category": ("Kategori", "Category"),
    "incident.description": ("Uraian", "Description"),
    "incident.priority": ("Prioritas", "Priority"),
    "incident.lat": ("Lintang", "Latitude"),
    "incident.lon": ("Bujur", "Longitude"),
    "incident.address": ("Alamat / patokan", "Address / landmark"),
    "incident.create": ("Buat insiden", "Create incident"),
    "incident.routing": ("Penanganan", "Routing"),
    "incident.jurisdiction": ("Wilayah", "Jurisdiction"),
    "incident.agencies": ("Instansi", "Agencies"),
    "incident.units": ("Unit yang disarankan", "Recommended units"),
    "incident.no_units": ("Tidak ada unit tersedia.", "No units available."),
    "incident.dispatch": ("Kirim unit", "Dispatch"),
    "incident.dispatched_units": ("Unit dikirim", "Units sent"),
    "incident.timeline": ("Riwayat status", "Status timeline"),
    "incident.status": ("Status", "Status"),
    "incident.note": ("Catatan", "Note"),
    "incident.set_status": ("Ubah status", "Change status"),
    "incident.calls": ("Panggilan terkait", "Linked calls"),
    "incident.not_found": ("Insiden tidak ditemukan.", "No such incident."),
    "incident.distance": ("Jarak", "Distance"),
    "incident.eta": ("Perkiraan tiba", "ETA"),
    "status.new": ("Baru", "New"),
    "status.dispatched": ("Unit dikirim", "Dispatched"),
    "status.on_scene": ("Di lokasi", "On scene"),
    "status.resolved": ("Tertangani", "Resolved"),
    "status.closed": ("Ditutup", "Closed"),
    "status.false_report": ("Laporan palsu", "False report"),
    "category.police": ("Polisi", "Police"),
    "category.fire": ("Kebakaran", "Fire"),
    "category.medical": ("Medis", "Medical"),
    "category.disaster": ("Bencana", "Disaster"),
    # map
    "map.title": ("Peta situasi", "Situation map"),
    "map.units": ("Unit", "Units"),
    "map.accuracy": ("radius akurasi", "accuracy radius"),
    # keys
    "keys.title": ("Pintasan keyboard", "Keyboard shortcuts"),
    "keys.open_top": ("buka panggilan teratas", "open the top call"),
    "keys.search": ("cari di antrean", "search the queue"),
    "keys.new_incident": ("insiden baru dari panggilan atau alarm ini", "new incident from this call or alarm"),
    "keys.queue": ("ke antrean", "go to the queue"),
    "keys.incidents": ("ke insiden", "go to incidents"),
    "keys.map": ("ke peta", "go to the map"),
    "keys.callbacks": ("ke panggil balik", "go to call-backs"),
    "keys.submit": ("kirim formulir", "submit the form"),
    "keys.escape": ("tutup / kembali", "close / back"),
    # errors
    "error.forbidden": ("Peran Anda tidak mengizinkan ini.", "Your role does not allow this."),
    "error.failed": ("Gagal: ", "Failed: "),
    "unit.seconds": ("dtk", "s"),
    "unit.minutes": ("mnt", "min"),
    "unit.metres": ("m", "m"),
}


def _tables() -> list[str]:
    """Every message table, in one explicit list: each area keeps its words beside its code."""
    return ["agent_console.i18n", "agent_console.supervisor.messages", "agent_console.shift_messages"]


@functools.cache
def messages() -> dict[str, tuple[str, str]]:
    """All tables merged; a table whose module is not deployed is skipped."""
    merged: dict[str, tuple[str, str]] = {}
    for name in _tables():
        try:
            merged.update(importlib.import_module(name).MESSAGES)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
    return merged


def language() -> str:
    """The viewer's language: their toggle this session, else their account's, else the site's."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    site = current_app.extensions["siaga112"].settings.language
    return site if site in LANGUAGES else LANGUAGES[0]


def translate(key: str, lang: str | None = None) -> str:
    """The words for `key`; an unknown key shows as itself so a gap is visible, not fatal."""
    words = messages().get(key)
    if words is None:
        return key
    return words[LANGUAGES.index(lang or language())]


def catalogue(lang: str) -> dict[str, str]:
    """Every message in one language, for the page's scripts."""
    index = LANGUAGES.index(lang)
    return {key: words[index] for key, words in messages().items()}
