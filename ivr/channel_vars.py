"""Every channel variable and dialplan function the FastAGI steps read or set, in one place.

The shipped dialplan (`config/asterisk/extensions.conf`) and these names must agree; a name
spelled twice is a name that will one day be spelled differently.
"""

# --- Set by the IVR for the dialplan ---------------------------------------------------
# The call's id in Siaga112. The dialplan passes it on to the member's leg as
# `__SIAGA_CALL_ID` (variable inheritance), where `agent-connected` and `call-ended` read it.
SIAGA_CALL_ID = "SIAGA_CALL_ID"
# Queue priority for Queue(): higher is answered first (Asterisk honours it on join).
QUEUE_PRIO = "QUEUE_PRIO"
# The caller's service choice ("police", "fire", "medical", "disaster") or empty.
SIAGA_SERVICE = "SIAGA_SERVICE"
# The caller channel's uniqueid, set (inherited, `__`) only when something of the call waits in
# the call journal: `agent-connected` on the call-taker's leg keeps its answer behind it.
SIAGA_UNIQUEID_INHERITED = "__SIAGA_UNIQUEID"
SIAGA_UNIQUEID = "SIAGA_UNIQUEID"

# --- Set by the dialplan before the intake (config/asterisk/extensions.conf) ------------
# When Asterisk answered the 112 call, UTC epoch seconds with milliseconds ("1795346546.123"):
# every answer time counts from here.
SIAGA_ANSWERED_AT = "SIAGA_ANSWERED_AT"
# The recordings' common path without extension: MixMonitor writes `<it>.wav` (the whole call)
# and `<it>-caller.wav` (the caller's own direction, r() option: their statement, transcribed live).
SIAGA_RECORDING = "SIAGA_RECORDING"
# Set by [siaga112-waiting] when the caller pressed 55 while waiting.
SIAGA_SILENT = "SIAGA_SILENT"

# --- Read by the IVR ---------------------------------------------------------------------
CALLERID_NUM = "CALLERID(num)"
CALLERID_NAME = "CALLERID(name)"
# Where the caller is, as the network sent it: the dialplan copies it into these variables on a
# PJSIP channel ([emergency] in config/asterisk/extensions.conf).
# The SIP Geolocation header (RFC 6442): `<cid:...>` means the PIDF-LO travels by value in the
# INVITE body; `<https:...>` would be by reference, which nobody fetches.
GEOLOCATION = "SIAGA_GEOLOCATION"
# The PIDF-LO as Asterisk parsed it (GEOLOC_PROFILE(), with the trunk's
# geoloc_incoming_call_profile): format (GML, civicAddress, URI), the shape as
# `shape="Circle",crs="2d",pos="-7.98 112.63",radius="50"`, the confidence as
# `pdf="normal",value="95"`, and the positioning method.
GEOLOC_FORMAT = "SIAGA_GEOLOC_FORMAT"
GEOLOC_LOCATION = "SIAGA_GEOLOC_LOCATION"
GEOLOC_CONFIDENCE = "SIAGA_GEOLOC_CONFIDENCE"
GEOLOC_METHOD = "SIAGA_GEOLOC_METHOD"
# The serving cell as the IMS core passes it (3GPP TS 24.229 P-Access-Network-Info).
ACCESS_NETWORK_INFO = "SIAGA_ACCESS_NETWORK_INFO"
# The whole PIDF-LO document, where an SBC in front of Asterisk copies it base64-encoded into a
# header and the dialplan sets `Set(SIAGA_PIDF_LO=${PJSIP_HEADER(read,X-PIDF-LO)})` (a channel
# variable travels in one AGI reply line, so multi-line XML cannot pass as is). A value that
# starts with "<" is taken as single-line XML. Read before the parsed shape: it carries more
# (every shape, the time of the fix).
PIDF_LO_BODY = "SIAGA_PIDF_LO"

# --- Read on the call-taker's leg (Queue() member hook) ----------------------------------
CONNECTEDLINE_NUM = "CONNECTEDLINE(num)"
MEMBERINTERFACE = "MEMBERINTERFACE"
QUEUENAME = "QUEUENAME"

# --- Read from the `h` extension ---------------------------------------------------------
DIALSTATUS = "DIALSTATUS"
