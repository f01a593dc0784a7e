"""The caller's page in Bahasa Indonesia (the default) and English: key -> (Indonesian, English).

The page is not part of the console (no sign-in, its own tiny script), so it keeps its own
words here; the console's words for the link panel are in `location_link.messages`.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Bagikan lokasi ke 112", "Share your location with 112"),
    "intro": ("Petugas 112 yang sedang menangani panggilan Anda meminta lokasi Anda.",
              "The 112 call-taker handling your call is asking where you are."),
    "consent": ("Jika Anda setuju, ponsel ini mengirim lokasinya selama halaman ini terbuka. Anda juga bisa "
                "mengirim foto, dan video langsung bila petugas memintanya. Semua hanya untuk keadaan darurat "
                "ini.",
                "If you agree, this phone sends its location while this page is open. You can also send photos, "
                "and live video if the call-taker asks. Everything is for this emergency only."),
    "agree": ("Setuju, bagikan lokasi saya", "I agree, share my location"),
    "language": ("English", "Bahasa Indonesia"),
    "sharing": ("Lokasi Anda sedang dibagikan. Biarkan halaman ini terbuka.",
                "Your location is being shared. Keep this page open."),
    "waiting_fix": ("Mencari lokasi…", "Finding your location…"),
    "sent_fix": ("Lokasi terkirim", "Location sent"),
    "accuracy": ("akurasi", "accuracy"),
    "geo_denied": ("Izin lokasi ditolak. Izinkan lokasi untuk situs ini di pengaturan peramban, lalu muat ulang.",
                   "Location permission was refused. Allow location for this site in the browser settings, "
                   "then reload."),
    "geo_unavailable": ("Lokasi tidak tersedia. Nyalakan GPS/lokasi ponsel Anda.",
                        "No location available. Turn on your phone's GPS/location."),
    "photos": ("Foto", "Photos"),
    "take_photo": ("Ambil foto", "Take a photo"),
    "pick_photo": ("Pilih dari galeri", "Pick from gallery"),
    "photo_sending": ("Mengirim foto…", "Sending photo…"),
    "photo_sent": ("Foto terkirim", "Photo sent"),
    "photo_failed": ("Foto gagal dikirim", "The photo could not be sent"),
    "video_asked": ("Petugas meminta video langsung dari kamera Anda.",
                    "The call-taker asks for live video from your camera."),
    "video_start": ("Mulai video", "Start video"),
    "video_decline": ("Tidak", "No"),
    "video_live": ("Video langsung sedang dikirim ke petugas.", "Live video is being sent to the call-taker."),
    "video_stop": ("Hentikan video", "Stop video"),
    "video_ended": ("Video dihentikan.", "Video stopped."),
    "video_failed": ("Kamera tidak bisa dipakai.", "The camera could not be used."),
    "ended": ("Tautan ini sudah berakhir. Terima kasih.", "This link has ended. Thank you."),
    "network": ("Jaringan lemah, mencoba lagi…", "Weak network, trying again…"),
    # why a link does not open
    "unknown": ("Tautan ini tidak berlaku. Jika Anda dalam keadaan darurat, telepon 112.",
                "This link is not valid. If you are in an emergency, call 112."),
    "expired": ("Tautan ini sudah kedaluwarsa. Jika Anda masih butuh bantuan, telepon 112.",
                "This link has expired. If you still need help, call 112."),
    "taken": ("Tautan ini sudah dibuka di ponsel lain. Jika Anda butuh bantuan, telepon 112.",
              "This link was opened on another phone. If you need help, call 112."),
    "not_started": ("Tekan tombol setuju terlebih dulu.", "Press the agree button first."),
    "slow_down": ("Terlalu banyak permintaan; tunggu sebentar.", "Too many requests; wait a moment."),
    "too_large": ("Foto terlalu besar.", "The photo is too large."),
    "not_image": ("Berkas ini bukan foto.", "This file is not a photo."),
    "too_many_photos": ("Batas jumlah foto sudah tercapai.", "The limit of photos has been reached."),
}


def words(lang: str) -> dict[str, str]:
    index = LANGUAGES.index(lang if lang in LANGUAGES else "id")
    return {key: pair[index] for key, pair in WORDS.items()}


def word(key: str, lang: str) -> str:
    return words(lang).get(key, key)
